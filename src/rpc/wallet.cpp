#include <bech32.h>
#include <node/context.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <validation.h>
#include <wallet/wallet.h>

CAmount WalletFee(const ChainParams& p) { return p.min_fee * 10; }

uint256 SendFromWallet(NodeContext& node, TxType type, const std::string& to, CAmount amount,
                       const std::optional<KeyHash>& from)
{
    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
    const CAmount fee = WalletFee(*node.params);
    std::string last_error = "Insufficient funds";
    std::vector<KeyHash> candidates = from ? std::vector<KeyHash>{*from} : node.wallet->KeyHashes();
    if (from && !node.wallet->KeyFor(*from)) {
        throw RPCError(RPC_INVALID_ADDRESS_OR_KEY,
                       "The wallet has no key for " + EncodeAddress(node.params->address_hrp, *from));
    }
    for (const KeyHash& hash : candidates) {
        const auto key = node.wallet->KeyFor(hash);
        AccountView view([&node](const KeyHash& k) { return node.chain->GetAccount(k); });
        CAmount fees = 0;
        for (const auto& pending : node.mempool->Ordered()) {
            if (pending.type != TxType::WithdrawFromMetachain && HashPubKey(pending.from) == hash) {
                TxValidationState ignored; // pooled txs apply: the pool checked them on this tip
                ApplyTx(view, pending, *node.params, fees, ignored);
            }
        }
        const Account acc = view.Get(hash);
        const auto spend = CheckedAdd(amount, fee);
        if (!spend || acc.balance < *spend) continue;
        CTransaction tx;
        tx.type = type;
        tx.from = key->GetPubKey();
        tx.to = to;
        tx.amount = amount;
        tx.fee = fee;
        tx.nonce = acc.nonce;
        tx.signature = key->Sign(tx.SignatureHash());
        const auto state = node.mempool->Accept(tx, [&node](const KeyHash& k) { return node.chain->GetAccount(k); });
        if (state.IsValid()) return tx.GetHash();
        if (state.GetResult() != TxValidationResult::TX_INSUFFICIENT_FUNDS) {
            throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
        }
        last_error = state.ToString();
    }
    throw RPCError(RPC_WALLET_INSUFFICIENT_FUNDS, last_error);
}

void RegisterWalletRPCCommands(RPCTable& t)
{
    t.Register({"Wallet",
                "getnewaddress",
                "Returns a new native address; its key is saved in the wallet.",
                {},
                "\"address\"",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    return EncodeAddress(node.params->address_hrp, HashPubKey(node.wallet->NewKey().GetPubKey()));
                }});
    t.Register({"Wallet",
                "getbalance",
                "Returns the confirmed balance of all wallet addresses.",
                {},
                "amount (numeric)",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    CAmount total = 0;
                    for (const auto& h : node.wallet->KeyHashes())
                        total += node.chain->GetAccount(h).balance;
                    return ValueFromAmount(total);
                }});
    t.Register({"Wallet",
                "sendtoaddress",
                "Sends an amount from the wallet to a native address.",
                {{"address", RPCArgType::Address, true, "The native address to send to"},
                 {"amount", RPCArgType::Amount, true, "The amount in coins"}},
                "\"txid\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    RefuseLockAddress(a[0], *node.params);
                    const CAmount amount = AmountFromValue(a[1]);
                    if (amount <= 0) throw RPCError(RPC_TYPE_ERROR, "Amount out of range");
                    return HexStr(
                        SendFromWallet(node, TxType::Transfer, a[0].get<std::string>(), amount, std::nullopt));
                }});
    t.Register({"Wallet",
                "gettransaction",
                "Returns a transaction from the mempool or the active chain.",
                {{"txid", RPCArgType::Hash, true, "The transaction id"}},
                "{txid, type, from, to, amount, fee, confirmations, blockhash, blockheight}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    return FoundTxToJSON(FindTx(node, HashArg(a[0])), *node.params);
                }});
}
