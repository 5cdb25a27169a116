// RPCs that reach the metachain: deposits and withdrawals as native custom
// txs, meta transfers into the metachain mempool, and metachain queries.
#include <bech32.h>
#include <metachain/backend.h>
#include <metachain/marshal.h>
#include <metachain/tx.h>
#include <node/context.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <util/time.h>
#include <validation.h>
#include <wallet/wallet.h>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace {

metachain::Backend& Meta(NodeContext& node)
{
    if (!node.meta) throw RPCError(RPC_MISC_ERROR, "No metachain: start defid with -meta or -meta_rpc");
    return *node.meta;
}

// Runs a metachain call; a rejection is the caller's error, a failure is ours.
template <typename F> auto CallMeta(F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const metachain::Error& e) {
        throw RPCError(e.IsRejection() ? RPC_INVALID_PARAMETER : RPC_INTERNAL_ERROR,
                       std::string("metachain: ") + e.what());
    }
}

KeyHash MetaAddressArg(const json& v, const ChainParams& params)
{
    const auto hash = DecodeAddress(v.get<std::string>(), params.meta_hrp);
    if (!hash) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid meta address: " + v.get<std::string>());
    return *hash;
}

CAmount PositiveAmount(const json& v)
{
    const CAmount amount = AmountFromValue(v);
    if (amount <= 0) throw RPCError(RPC_TYPE_ERROR, "Amount out of range");
    return amount;
}

// Next meta nonce for `addr`: past its committed nonce, its transfers in the
// metachain's mempool and its withdrawals in ours. Derived from what is
// pending, never reserved, so a tx that fails uses up nothing. Call under the
// chain lock, and submit under it too, so no other call takes the same nonce.
uint64_t NextMetaNonce(NodeContext& node, const std::string& addr)
{
    mc::MetaGetBalanceInput in{};
    in.address = addr;
    uint64_t next = CallMeta([&] { return Meta(node).GetBalance(in); }).pending_nonce;
    for (const auto& tx : node.mempool->Ordered()) {
        if (tx.type == TxType::WithdrawFromMetachain && tx.meta_from == addr) ++next;
    }
    return next;
}

struct MetaSigned {
    uint64_t nonce;
    std::vector<uint8_t> pubkey, signature;
};

// Signs a meta tx of `kind` with the wallet's key for `from`, at its next nonce.
MetaSigned SignMetaTx(NodeContext& node, mc::TxKind kind, const std::string& from, const std::string& to,
                      CAmount amount)
{
    const auto key = node.wallet->KeyFor(MetaAddressArg(from, *node.params));
    if (!key) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "The wallet has no key for " + from);
    MetaSigned out;
    out.nonce = NextMetaNonce(node, from);
    const PubKey pub = key->GetPubKey();
    out.pubkey.assign(pub.begin(), pub.end());
    out.signature = key->Sign(MetaSignatureHash(static_cast<int32_t>(kind), from, to, amount, out.nonce));
    return out;
}

json MetaBlockToJSON(const mc::MetaGetBlockResult& r)
{
    const auto& h = r.block.header;
    json txs = json::array();
    for (const auto& t : r.block.txs) {
        txs.push_back({{"kind", static_cast<int>(t.kind)},
                       {"from", std::string(t.from)},
                       {"to", std::string(t.to)},
                       {"amount", ValueFromAmount(t.amount)},
                       {"nonce", t.nonce},
                       {"nativetxid", HexStr(t.native_txid.data(), t.native_txid.size())}});
    }
    return {{"hash", std::string(r.hash)},
            {"number", h.number},
            {"parenthash", HexStr(h.parent_hash.data(), h.parent_hash.size())},
            {"nativeheight", h.native_height},
            {"nativetime", h.native_time},
            {"txroot", HexStr(h.tx_root.data(), h.tx_root.size())},
            {"stateroot", HexStr(h.state_root.data(), h.state_root.size())},
            {"receiptsroot", HexStr(h.receipts_root.data(), h.receipts_root.size())},
            {"tx", txs}};
}

} // namespace

void RefuseWhatTheMetachainWould(NodeContext& node, const CTransaction& tx)
{
    if (tx.type != TxType::WithdrawFromMetachain) return;
    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
    // What the miner would hand MintBlock next: the pool's metachain txs, then
    // this one. Minting never commits, so this is a dry run.
    std::vector<CTransaction> draft = node.mempool->Ordered();
    draft.push_back(tx);
    const CBlockIndex* tip = node.chain->Tip();
    const int64_t now = GetTime();
    const auto minted = CallMeta([&] {
        return Meta(node).MintBlock(metachain::MintInput(metachain::MetachainTxs(draft, *node.params),
                                                         tip->height() + 1, std::max<int64_t>(now, tip->header.time)));
    });
    const uint256 txid = tx.GetHash();
    for (const auto& r : minted.refused) {
        if (r.native_txid.size() == txid.size() && std::equal(txid.begin(), txid.end(), r.native_txid.begin())) {
            throw RPCError(RPC_VERIFY_REJECTED, "the metachain refuses this withdrawal: " + std::string(r.reason));
        }
    }
}

void RegisterMetachainRPCCommands(RPCTable& t)
{
    t.Register({"Metachain",
                "getmetachaininfo",
                "Returns the metachain's mode, tip and supply, and the lock balance.",
                {},
                "{mode, height, hash, stateroot, supply, lockbalance}",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const auto tip = CallMeta([&] { return Meta(node).GetTip(); });
                    return {
                        {"mode", Meta(node).Mode()},
                        {"height", tip.number},
                        {"hash", std::string(tip.hash)},
                        {"stateroot", std::string(tip.state_root)},
                        {"supply", ValueFromAmount(tip.total_supply)},
                        {"lockaddress", node.params->LockAddress()},
                        {"lockbalance", ValueFromAmount(node.chain->GetAccount(node.params->lock_address).balance)}};
                }});
    t.Register({"Metachain",
                "getnewmetaaddress",
                "Returns a new meta address; its key is saved in the wallet.",
                {},
                "\"address\"",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    return EncodeAddress(node.params->meta_hrp, HashPubKey(node.wallet->NewKey().GetPubKey()));
                }});
    t.Register({"Metachain",
                "getmetabalance",
                "Returns the balance and nonce of a meta address.",
                {{"metaaddress", RPCArgType::MetaAddress, true, "A meta address"}},
                "{address, balance, nonce}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    MetaAddressArg(a[0], *node.params);
                    mc::MetaGetBalanceInput in{};
                    in.address = a[0].get<std::string>();
                    const auto r = CallMeta([&] { return Meta(node).GetBalance(in); });
                    return {{"address", a[0]}, {"balance", ValueFromAmount(r.balance)}, {"nonce", r.nonce}};
                }});
    t.Register({"Metachain",
                "getmetablock",
                "Returns a metachain block by hash or height.",
                {{"blockid", RPCArgType::BlockId, true, "A 64-hex block hash or a height"}},
                "{hash, number, parenthash, nativeheight, stateroot, tx, ...}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetBlockInput in{};
                    in.block_id = a[0].get<std::string>();
                    return MetaBlockToJSON(CallMeta([&] { return Meta(node).GetBlock(in); }));
                }});
    t.Register(
        {"Metachain",
         "deposittometachain",
         "Moves native funds from a wallet address to the lock address; the metachain mints them to a meta address.",
         {{"from", RPCArgType::Address, true, "A wallet native address paying amount + fee"},
          {"metaaddress", RPCArgType::MetaAddress, true, "The meta address credited"},
          {"amount", RPCArgType::Amount, true, "The amount in coins"}},
         "\"txid\"",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             Meta(node);
             const KeyHash from = NativeAddressArg(a[0], *node.params);
             MetaAddressArg(a[1], *node.params);
             const CAmount amount = PositiveAmount(a[2]);
             return HexStr(SendFromWallet(node, TxType::DepositToMetachain, a[1].get<std::string>(), amount, from));
         }});
    t.Register({"Metachain",
                "withdrawfrommetachain",
                "Burns an amount on a wallet meta address; the native address receives it from the lock address, minus "
                "the native fee. A withdrawal the metachain would refuse is refused here, with its reason.",
                {{"metafrom", RPCArgType::MetaAddress, true, "A wallet meta address"},
                 {"nativeto", RPCArgType::Address, true, "The native address credited"},
                 {"amount", RPCArgType::Amount, true, "The amount burned, in coins"}},
                "\"txid\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    Meta(node);
                    MetaAddressArg(a[0], *node.params);
                    RefuseLockAddress(a[1], *node.params);
                    const CAmount amount = PositiveAmount(a[2]);
                    const CAmount fee = WalletFee(*node.params);
                    if (amount <= fee)
                        throw RPCError(RPC_INVALID_PARAMETER,
                                       "Amount does not cover the native fee of " + FormatMoney(fee));
                    CTransaction tx;
                    tx.type = TxType::WithdrawFromMetachain;
                    tx.meta_from = a[0].get<std::string>();
                    tx.to = a[1].get<std::string>();
                    tx.amount = amount;
                    tx.fee = fee;
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    MetaSigned signed_tx = SignMetaTx(node, mc::TxKind::Withdraw, tx.meta_from, tx.to, tx.amount);
                    tx.meta_nonce = signed_tx.nonce;
                    tx.meta_pubkey = std::move(signed_tx.pubkey);
                    tx.meta_signature = std::move(signed_tx.signature);
                    const auto accounts = [&node](const KeyHash& k) { return node.chain->GetAccount(k); };
                    auto state = node.mempool->TestAccept(tx, accounts);
                    if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
                    RefuseWhatTheMetachainWould(node, tx);
                    state = node.mempool->Accept(tx, accounts);
                    if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
                    return HexStr(tx.GetHash());
                }});
    t.Register({"Metachain",
                "metatransfer",
                "Signs a transfer with the wallet's meta key and submits it to the metachain mempool.",
                {{"metafrom", RPCArgType::MetaAddress, true, "A wallet meta address"},
                 {"metato", RPCArgType::MetaAddress, true, "The meta address credited"},
                 {"amount", RPCArgType::Amount, true, "The amount in coins"}},
                "\"metatxhash\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    Meta(node);
                    MetaAddressArg(a[0], *node.params);
                    MetaAddressArg(a[1], *node.params);
                    const CAmount amount = PositiveAmount(a[2]);
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const MetaSigned signed_tx = SignMetaTx(node, mc::TxKind::Transfer, a[0].get<std::string>(),
                                                            a[1].get<std::string>(), amount);
                    mc::MetaSendTransactionInput in{};
                    in.tx.kind = mc::TxKind::Transfer;
                    in.tx.from = a[0].get<std::string>();
                    in.tx.to = a[1].get<std::string>();
                    in.tx.amount = amount;
                    in.tx.nonce = signed_tx.nonce;
                    in.tx.pubkey = metachain::ToRustBytes(signed_tx.pubkey);
                    in.tx.signature = metachain::ToRustBytes(signed_tx.signature);
                    return std::string(CallMeta([&] { return Meta(node).SendTransaction(in); }).tx_hash);
                }});
}
