#include <node/miner.h>

#include <consensus/tx_verify.h>
#include <metachain/backend.h>
#include <metachain/marshal.h>

#include <txmempool.h>
#include <util/logging.h>
#include <validation.h>

#include <algorithm>
#include <set>
#include <stdexcept>

CBlock CreateNewBlock(ChainState& chain, Mempool& mempool, const std::string& coinbase_to, int64_t now,
                      const std::string& meta_beneficiary)
{
    std::lock_guard<std::recursive_mutex> lock(chain.cs);
    const ChainParams& params = chain.params();
    const CBlockIndex* tip = chain.Tip();
    CBlock block;
    block.header.prev = tip->hash;
    block.header.height = tip->height() + 1;
    block.header.time = std::max(now, tip->header.time);
    block.header.bits = chain.NextWorkRequired(tip);

    // Mempool txs that still apply, minus those the metachain refused.
    std::set<uint256> refused;
    AccountView view([&chain](const KeyHash& k) { return chain.GetAccount(k); });
    CAmount fees = 0;
    std::vector<CTransaction> txs;
    for (int round = 0;; ++round) {
        view = AccountView([&chain](const KeyHash& k) { return chain.GetAccount(k); });
        fees = 0;
        txs.clear();
        for (const auto& tx : mempool.Ordered()) {
            if (refused.count(tx.GetHash())) continue;
            // A tx that no longer applies is skipped; revalidation drops it.
            AccountView trial = view;
            CAmount trial_fees = fees;
            TxValidationState state;
            if (!ApplyTx(trial, tx, params, trial_fees, state)) {
                LogPrint("miner: skipping tx " + HexStr(tx.GetHash()) + ": " + state.ToString());
                continue;
            }
            view = std::move(trial);
            fees = trial_fees;
            txs.push_back(tx);
        }
        metachain::Backend* meta = chain.Metachain();
        if (!meta) break;
        const auto minted = meta->MintBlock(metachain::MintInput(
            metachain::MetachainTxs(txs, params), block.header.height, block.header.time, meta_beneficiary));
        size_t failed = 0;
        for (const auto& r : minted.refused) {
            uint256 txid;
            if (r.native_txid.size() != txid.size())
                throw std::runtime_error("the metachain refused a tx with a malformed txid");
            std::copy(r.native_txid.begin(), r.native_txid.end(), txid.begin());
            LogPrint("miner: dropping tx " + HexStr(txid) + ", refused by the metachain: " + std::string(r.reason));
            refused.insert(txid);
            mempool.RemoveRefused(txid);
            ++failed;
        }
        if (failed == 0) {
            block.payload.assign(minted.payload.begin(), minted.payload.end());
            break;
        }
        if (round == 8) throw std::runtime_error("the metachain keeps refusing txs; block not built");
    }
    CTransaction coinbase;
    coinbase.type = TxType::Coinbase;
    coinbase.to = coinbase_to;
    coinbase.amount = params.block_reward + fees;
    coinbase.nonce = block.header.height;
    block.vtx.push_back(coinbase);
    block.vtx.insert(block.vtx.end(), txs.begin(), txs.end());
    block.header.merkle_root = block.ComputeMerkleRoot();
    block.header.payload_hash = PayloadHash(block.payload);
    while (!CheckProofOfWork(block.GetHash(), block.header.bits))
        ++block.header.nonce;
    return block;
}
