// RPCs that reach the metachain (an EVM chain, docs/metachain.md): deposits
// and withdrawals as native custom txs, EVM txs into the metachain's txpool,
// and metachain queries. Meta addresses are 0x addresses; keys, signatures
// and tx encodings come from the bridge (metachain/bridge.h).
#include <metachain/backend.h>
#include <metachain/bridge.h>
#include <metachain/marshal.h>
#include <node/context.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <util/time.h>
#include <validation.h>
#include <wallet/wallet.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>

namespace {

// The largest EVM tx the metachain takes (its txpool's limit).
constexpr size_t MAX_META_TX_SIZE = 128 * 1024;
// metatransfer's gas: a plain value transfer, and a 1 gwei tip.
constexpr uint64_t TRANSFER_GAS = 21000;
constexpr uint64_t TRANSFER_TIP = 1000000000;

metachain::Backend& Meta(NodeContext& node)
{
    if (!node.meta) throw RPCError(RPC_MISC_ERROR, "No metachain: start defid with -meta or -meta_rpc");
    return *node.meta;
}

// Runs a metachain call. A rejection is the caller's error (-8 with the
// metachain's text; -27 for a tx it already has), a failure is ours.
template <typename F> auto CallMeta(F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const metachain::Error& e) {
        int code = RPC_INTERNAL_ERROR;
        if (e.IsRejection()) code = e.Code() == "already-exists" ? RPC_VERIFY_ALREADY_IN_CHAIN : RPC_INVALID_PARAMETER;
        throw RPCError(code, std::string("metachain: ") + e.what());
    }
}

// Runs one of the bridge's pure functions (signing, hashing, formatting):
// they fail only on a bug, so a failure is an internal error.
template <typename F> auto CallBridge(F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const RPCError&) {
        throw;
    } catch (const std::exception& e) {
        throw RPCError(RPC_INTERNAL_ERROR, "metachain bridge: " + metachain::BridgeMessage(e));
    }
}

CAmount PositiveAmount(const json& v)
{
    const CAmount amount = AmountFromValue(v);
    if (amount <= 0) throw RPCError(RPC_TYPE_ERROR, "Amount out of range");
    return amount;
}

std::string Hex0x(const rust::Vec<uint8_t>& bytes) { return "0x" + HexStr(bytes.data(), bytes.size()); }

// A hash from the metachain as 0x-hex, whether or not it wrote the 0x.
std::string Hash0x(const rust::String& hash)
{
    std::string s(hash);
    return s.empty() || s.rfind("0x", 0) == 0 ? s : "0x" + s;
}

// Wei (a decimal string) as coins with 18 decimals, an exact JSON number.
json WeiAsCoins(const rust::String& wei)
{
    return RawNumber(CallBridge([&] { return metachain::FormatWei(std::string(wei)); }));
}

// A 20-byte address field as a 0x address (EIP-55 when the bridge takes it).
std::string AddressJSON(const rust::Vec<uint8_t>& bytes)
{
    const std::string raw = Hex0x(bytes);
    return metachain::ParseAddress(raw).value_or(raw);
}

// A 0x-hex argument of at most `max_digits` hex digits ("0x" optional), as
// "0x" + its lowercase digits; -8 naming the argument otherwise.
std::string HexWordArg(const json& v, const std::string& name, size_t max_digits, bool exact)
{
    std::string s = v.get<std::string>();
    if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) s = s.substr(2);
    const bool hex = !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
    if (!hex || s.size() > max_digits || (exact && s.size() != max_digits)) {
        throw RPCError(RPC_INVALID_PARAMETER, name + " must be " + (exact ? "" : "at most ") +
                                                  std::to_string(max_digits) + " hex digits (0x optional), got " +
                                                  QuoteForError(v));
    }
    return "0x" + metachain::AddressKey(s);
}

// A raw EVM tx argument: hex ("0x" optional) of at most MAX_META_TX_SIZE
// bytes; -22 otherwise, as for any serialized object.
std::vector<uint8_t> RawMetaTxArg(const json& v)
{
    std::string s = v.get<std::string>();
    if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) s = s.substr(2);
    if (s.size() / 2 > MAX_META_TX_SIZE) {
        throw RPCError(RPC_DESERIALIZATION_ERROR, "hexstring is " + std::to_string(s.size() / 2) +
                                                      " bytes, over the limit of " + std::to_string(MAX_META_TX_SIZE));
    }
    const auto bytes = ParseHex(s);
    if (!bytes || bytes->empty()) {
        throw RPCError(RPC_DESERIALIZATION_ERROR,
                       "hexstring decode failed: not hex (an even number of 0-9a-f digits, 0x optional): " +
                           QuoteForError(v));
    }
    return *bytes;
}

uint64_t ChainId(const NodeContext& node)
{
    return CallBridge([&] { return metachain::ChainId(node.params->network); });
}

// How many withdrawals from `addr` (any spelling) wait in our mempool.
uint64_t PooledWithdrawals(NodeContext& node, const std::string& addr)
{
    const std::string key = metachain::AddressKey(addr);
    uint64_t n = 0;
    for (const auto& tx : node.mempool->Ordered()) {
        if (tx.type == TxType::WithdrawFromMetachain && metachain::AddressKey(tx.meta_from) == key) ++n;
    }
    return n;
}

// Next meta nonce of an EVM tx from `addr`: past its committed nonce, its txs
// in the metachain's txpool and its withdrawals in our mempool. Derived from
// what is pending, never reserved, so a tx that fails uses up nothing. Call
// under the chain lock, and submit under it too, so no other call takes the
// same nonce.
uint64_t NextMetaNonce(NodeContext& node, const std::string& addr)
{
    mc::MetaGetBalanceInput in{};
    in.address = addr;
    return CallMeta([&] { return Meta(node).GetBalance(in); }).pending_nonce + PooledWithdrawals(node, addr);
}

// The nonce a withdrawal from `addr` takes: its committed nonce plus its
// withdrawals in our mempool. A block runs its withdrawals before its EVM txs,
// so while the txpool holds txs of `addr` a withdrawal would take their
// nonces: it is refused until they are mined. Call under the chain lock.
uint64_t NextWithdrawalNonce(NodeContext& node, const std::string& addr)
{
    mc::MetaGetBalanceInput in{};
    in.address = addr;
    const auto balance = CallMeta([&] { return Meta(node).GetBalance(in); });
    if (balance.pending_nonce > balance.nonce) {
        throw RPCError(RPC_VERIFY_REJECTED,
                       "the metachain would refuse this withdrawal: " + addr + " has " +
                           std::to_string(balance.pending_nonce - balance.nonce) +
                           " tx(s) waiting in the metachain's txpool, which a withdrawal would run before and take "
                           "the nonce of; withdraw once they are mined");
    }
    return balance.nonce + PooledWithdrawals(node, addr);
}

CKey WalletMetaKey(NodeContext& node, const std::string& address, const std::string& otherwise)
{
    const auto key = node.wallet ? node.wallet->MetaKeyFor(address) : std::nullopt;
    if (!key) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "The wallet has no key for " + address + otherwise);
    return *key;
}

const char* KindName(mc::TxKind kind)
{
    switch (kind) {
    case mc::TxKind::Deposit:
        return "deposit";
    case mc::TxKind::Withdraw:
        return "withdraw";
    default:
        return "unknown";
    }
}

json MetaBlockToJSON(const mc::MetaGetBlockResult& r)
{
    const auto& h = r.block.header;
    json system_txs = json::array();
    for (const auto& t : r.block.system_txs) {
        system_txs.push_back({{"kind", KindName(t.kind)},
                              {"from", std::string(t.from)},
                              {"to", std::string(t.to)},
                              {"amount", ValueFromAmount(t.amount)},
                              {"nonce", t.nonce},
                              {"nativetxid", HexStr(t.native_txid.data(), t.native_txid.size())}});
    }
    json txs = json::array();
    for (const auto& t : r.block.transactions) {
        const std::vector<uint8_t> raw(t.raw.begin(), t.raw.end());
        txs.push_back({{"hash", CallBridge([&] { return metachain::TxHash(raw); })}, {"raw", Hex0x(t.raw)}});
    }
    return {{"hash", Hash0x(r.hash)},
            {"number", h.number},
            {"parenthash", Hex0x(h.parent_hash)},
            {"nativeheight", h.native_height},
            {"nativetime", h.native_time},
            {"txroot", Hex0x(h.tx_root)},
            {"stateroot", Hex0x(h.state_root)},
            {"receiptsroot", Hex0x(h.receipts_root)},
            {"beneficiary", AddressJSON(h.beneficiary)},
            {"gaslimit", h.gas_limit},
            {"gasused", h.gas_used},
            {"basefee", h.base_fee},
            {"logsbloom", Hex0x(h.logs_bloom)},
            {"systemtxs", system_txs},
            {"transactions", txs}};
}

json ReceiptToJSON(const mc::MetaGetReceiptResult& r)
{
    json logs = json::array();
    for (const auto& log : r.logs) {
        json topics = json::array();
        for (const auto& topic : log.topics)
            topics.push_back(std::string(topic));
        logs.push_back({{"address", std::string(log.address)}, {"topics", topics}, {"data", std::string(log.data)}});
    }
    return {{"txhash", Hash0x(r.tx_hash)},
            {"blockhash", Hash0x(r.block_hash)},
            {"blocknumber", r.block_number},
            {"index", r.index},
            {"txtype", r.tx_type},
            {"from", std::string(r.from)},
            {"to", std::string(r.to)},
            {"contractaddress", std::string(r.contract_address)},
            {"status", r.success},
            {"gasused", r.gas_used},
            {"cumulativegasused", r.cumulative_gas_used},
            {"effectivegasprice", r.effective_gas_price},
            {"logs", logs},
            {"nativetxid", HexStr(r.native_txid.data(), r.native_txid.size())},
            {"error", std::string(r.error)}};
}

// Submits a raw EVM tx to the metachain's txpool; its 0x hash.
std::string SendMetaTx(NodeContext& node, const std::vector<uint8_t>& raw)
{
    mc::MetaSendTransactionInput in{};
    in.raw = metachain::ToRustBytes(raw);
    return Hash0x(CallMeta([&] { return Meta(node).SendTransaction(in); }).tx_hash);
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
                "Returns the metachain's mode, chain id, tip, supply, burned fees and gas, and the lock balance. "
                "Invariant: lockbalance x 10^10 == supplywei + burnedwei.",
                {},
                "{mode, chainid, height, hash, stateroot, supply, supplywei, burnedwei, basefee, nextbasefee, "
                "gasused, gaslimit, lockaddress, lockbalance}",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const auto tip = CallMeta([&] { return Meta(node).GetTip(); });
                    return {
                        {"mode", Meta(node).Mode()},
                        {"chainid", tip.chain_id},
                        {"height", tip.number},
                        {"hash", Hash0x(tip.hash)},
                        {"stateroot", Hash0x(tip.state_root)},
                        {"supply", WeiAsCoins(tip.supply_wei)},
                        {"supplywei", std::string(tip.supply_wei)},
                        {"burnedwei", std::string(tip.burned_wei)},
                        {"basefee", tip.base_fee},
                        {"nextbasefee", tip.next_base_fee},
                        {"gasused", tip.gas_used},
                        {"gaslimit", tip.gas_limit},
                        {"lockaddress", node.params->LockAddress()},
                        {"lockbalance", ValueFromAmount(node.chain->GetAccount(node.params->lock_address).balance)}};
                }});
    t.Register({"Metachain",
                "getnewmetaaddress",
                "Returns a new meta (0x, EIP-55) address; its key is saved in the wallet.",
                {},
                "\"0xaddress\"",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    if (!node.wallet) throw RPCError(RPC_MISC_ERROR, "No wallet");
                    return node.wallet->NewMetaKey();
                }});
    t.Register({"Metachain",
                "getmetabalance",
                "Returns the balance, nonces and code hash of a meta address.",
                {{"metaaddress", RPCArgType::MetaAddress, true, "A 0x address"}},
                "{address, balance, wei, nonce, pendingnonce, codehash}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetBalanceInput in{};
                    in.address = a[0].get<std::string>();
                    const auto r = CallMeta([&] { return Meta(node).GetBalance(in); });
                    return {{"address", std::string(r.address)}, {"balance", WeiAsCoins(r.balance_wei)},
                            {"wei", std::string(r.balance_wei)}, {"nonce", r.nonce},
                            {"pendingnonce", r.pending_nonce},   {"codehash", Hash0x(r.code_hash)}};
                }});
    t.Register({"Metachain",
                "getmetablock",
                "Returns a metachain block by hash or number: its header, system txs and EVM txs.",
                {{"blockid", RPCArgType::BlockId, true, "A 64-hex block hash (0x optional) or a block number"}},
                "{hash, number, parenthash, nativeheight, nativetime, txroot, stateroot, receiptsroot, beneficiary, "
                "gaslimit, gasused, basefee, logsbloom, systemtxs: [{kind, from, to, amount, nonce, nativetxid}], "
                "transactions: [{hash, raw}]}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetBlockInput in{};
                    in.block_id = a[0].get<std::string>();
                    return MetaBlockToJSON(CallMeta([&] { return Meta(node).GetBlock(in); }));
                }});
    t.Register({"Metachain",
                "getmetareceipt",
                "Returns the receipt of a mined EVM or system tx.",
                {{"txhash", RPCArgType::Str, true, "The 0x tx hash", 0, 0, 66}},
                "{txhash, blockhash, blocknumber, index, txtype, from, to, contractaddress, status, gasused, "
                "cumulativegasused, effectivegasprice, logs: [{address, topics, data}], nativetxid, error}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetReceiptInput in{};
                    in.tx_hash = HexWordArg(a[0], "txhash", 64, true);
                    return ReceiptToJSON(CallMeta([&] { return Meta(node).GetReceipt(in); }));
                }});
    t.Register({"Metachain",
                "getmetastorageat",
                "Returns the storage word of a contract at a slot.",
                {{"metaaddress", RPCArgType::MetaAddress, true, "A 0x address"},
                 {"slot", RPCArgType::Str, true, "The slot, 0x-hex, up to 32 bytes", 0, 0, 66}},
                "\"0xword\" (32 bytes)",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetStorageAtInput in{};
                    in.address = a[0].get<std::string>();
                    in.slot = HexWordArg(a[1], "slot", 64, false);
                    return std::string(CallMeta([&] { return Meta(node).GetStorageAt(in); }).value);
                }});
    t.Register({"Metachain",
                "getmetacode",
                "Returns the code of a meta address (\"0x\" for none).",
                {{"metaaddress", RPCArgType::MetaAddress, true, "A 0x address"}},
                "\"0xcode\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    mc::MetaGetCodeInput in{};
                    in.address = a[0].get<std::string>();
                    return std::string(CallMeta([&] { return Meta(node).GetCode(in); }).code);
                }});
    t.Register(
        {"Metachain",
         "deposittometachain",
         "Moves native funds from a wallet address to the lock address; the metachain mints them (x 10^10 wei) to a "
         "0x address.",
         {{"from", RPCArgType::Address, true, "A wallet native address paying amount + fee"},
          {"metaaddress", RPCArgType::MetaAddress, true, "The 0x address credited"},
          {"amount", RPCArgType::Amount, true, "The amount in coins"}},
         "\"txid\"",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             Meta(node);
             const KeyHash from = NativeAddressArg(a[0], *node.params);
             const CAmount amount = PositiveAmount(a[2]);
             return HexStr(SendFromWallet(node, TxType::DepositToMetachain, a[1].get<std::string>(), amount, from));
         }});
    t.Register(
        {"Metachain",
         "withdrawfrommetachain",
         "Burns an amount (x 10^10 wei) on a meta address; the native address receives it from the lock address, "
         "minus the native fee. Authorised by the meta account's EIP-712 signature at its next withdrawal nonce (its "
         "committed nonce plus its withdrawals in the mempool): the given one, or else the wallet signs with its "
         "key. A withdrawal the metachain would refuse is refused here, with its reason.",
         {{"metafrom", RPCArgType::MetaAddress, true, "The 0x address burning"},
          {"nativeto", RPCArgType::Address, true, "The native address credited"},
          {"amount", RPCArgType::Amount, true, "The amount burned, in coins"},
          {"signature", RPCArgType::Hex, false,
           "The 65-byte EIP-712 signature (r || s || v) of the withdrawal at that nonce, hex; without it the wallet "
           "signs",
           0, 0, META_SIGNATURE_SIZE}},
         "\"txid\"",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             Meta(node);
             RefuseLockAddress(a[1], *node.params);
             const CAmount amount = PositiveAmount(a[2]);
             const CAmount fee = WalletFee(*node.params);
             if (amount <= fee)
                 throw RPCError(RPC_INVALID_PARAMETER, "Amount does not cover the native fee of " + FormatMoney(fee));
             std::optional<std::vector<uint8_t>> given;
             if (!a[3].is_null()) {
                 given = ParseHex(a[3].get<std::string>());
                 if (!given || given->size() != META_SIGNATURE_SIZE) {
                     throw RPCError(RPC_INVALID_PARAMETER, "signature must be " + std::to_string(META_SIGNATURE_SIZE) +
                                                               " bytes (r || s || v), got " +
                                                               std::to_string(given ? given->size() : 0));
                 }
             }
             CTransaction tx;
             tx.type = TxType::WithdrawFromMetachain;
             tx.meta_from = a[0].get<std::string>();
             tx.to = a[1].get<std::string>();
             tx.amount = amount;
             tx.fee = fee;
             std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
             const std::optional<CKey> key =
                 given ? std::nullopt
                       : std::optional<CKey>(WalletMetaKey(node, tx.meta_from, ": pass its EIP-712 signature"));
             tx.meta_nonce = NextWithdrawalNonce(node, tx.meta_from);
             tx.meta_signature = given ? *given : CallBridge([&] {
                 return metachain::SignWithdrawal(*key, ChainId(node), tx.to, tx.amount, tx.meta_nonce);
             });
             const auto accounts = [&node](const KeyHash& k) { return node.chain->GetAccount(k); };
             auto state = node.mempool->TestAccept(tx, accounts);
             if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
             RefuseWhatTheMetachainWould(node, tx);
             state = node.mempool->Accept(tx, accounts);
             if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
             return HexStr(tx.GetHash());
         }});
    t.Register(
        {"Metachain",
         "metatransfer",
         "Sends an amount (x 10^10 wei) between meta addresses: the wallet signs an EIP-1559 transfer (21000 gas, a "
         "1 gwei tip, max fee 2 x the next base fee + the tip) at the sender's next nonce and submits it to the "
         "metachain's txpool.",
         {{"metafrom", RPCArgType::MetaAddress, true, "A wallet 0x address"},
          {"metato", RPCArgType::MetaAddress, true, "The 0x address credited"},
          {"amount", RPCArgType::Amount, true, "The amount in coins"}},
         "\"0xtxhash\"",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             Meta(node);
             const std::string from = a[0].get<std::string>(), to = a[1].get<std::string>();
             const CAmount amount = PositiveAmount(a[2]);
             const CKey key = WalletMetaKey(node, from, "");
             std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
             const uint64_t nonce = NextMetaNonce(node, from);
             const uint64_t next_base_fee = CallMeta([&] { return Meta(node).GetTip(); }).next_base_fee;
             const uint64_t cap = std::numeric_limits<uint64_t>::max();
             const uint64_t max_fee = next_base_fee > (cap - TRANSFER_TIP) / 2 ? cap : 2 * next_base_fee + TRANSFER_TIP;
             const auto raw = CallBridge([&] {
                 return metachain::SignTransfer(key, ChainId(node), nonce, to, metachain::WeiOf(amount), max_fee,
                                                TRANSFER_TIP, TRANSFER_GAS);
             });
             return SendMetaTx(node, raw);
         }});
    t.Register({"Metachain",
                "sendrawmetatransaction",
                "Submits a signed Ethereum tx (EIP-2718 encoded: legacy with EIP-155, EIP-2930 or EIP-1559) to the "
                "metachain's txpool.",
                {{"hexstring", RPCArgType::Str, true, "The raw tx as hex (0x optional), at most 128 KiB", 0, 0,
                  2 * MAX_META_TX_SIZE + 2}},
                "\"0xtxhash\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto raw = RawMetaTxArg(a[0]);
                    return SendMetaTx(node, raw);
                }});
}
