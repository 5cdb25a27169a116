#include <metachain/marshal.h>

#include <bech32.h>
#include <metachain/backend.h>

namespace metachain {

std::vector<NativeTxView> MetachainTxs(const std::vector<CTransaction>& txs, const ChainParams& params)
{
    std::vector<NativeTxView> out;
    for (const auto& tx : txs) {
        if (tx.type == TxType::DepositToMetachain) {
            out.push_back({static_cast<int32_t>(mc::TxKind::Deposit),
                           EncodeAddress(params.address_hrp, HashPubKey(tx.from)),
                           tx.to,
                           tx.GetHash(),
                           tx.amount,
                           0,
                           {}});
        } else if (tx.type == TxType::WithdrawFromMetachain) {
            out.push_back({static_cast<int32_t>(mc::TxKind::Withdraw), tx.meta_from, tx.to, tx.GetHash(), tx.amount,
                           tx.meta_nonce, tx.meta_signature});
        }
    }
    return out;
}

static rust::Vec<mc::NativeTx> ToMeta(const std::vector<NativeTxView>& txs)
{
    rust::Vec<mc::NativeTx> out;
    for (const auto& t : txs) {
        mc::NativeTx n{};
        n.kind = static_cast<mc::TxKind>(t.kind);
        n.from = t.from;
        n.to = t.to;
        n.amount = t.amount;
        n.native_txid = ToRustBytes(t.txid);
        n.nonce = t.nonce;
        n.signature = ToRustBytes(t.signature);
        out.push_back(std::move(n));
    }
    return out;
}

mc::MetaMintBlockInput MintInput(const std::vector<NativeTxView>& txs, uint32_t height, int64_t time,
                                 const std::string& beneficiary)
{
    mc::MetaMintBlockInput in{};
    in.txs = ToMeta(txs);
    in.context.height = height;
    in.context.time = time;
    in.beneficiary = beneficiary;
    return in;
}

mc::MetaConnectBlockInput ConnectInput(const CBlock& block, const ChainParams& params)
{
    mc::MetaConnectBlockInput in{};
    in.payload = ToRustBytes(block.payload);
    in.context.height = block.header.height;
    in.context.time = block.header.time;
    in.native_txs_hash = mc::ain_native_txs_hash(ToMeta(MetachainTxs(block.vtx, params)));
    return in;
}

} // namespace metachain
