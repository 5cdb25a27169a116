#include <node/miner.h>

#include <txmempool.h>
#include <util/logging.h>
#include <validation.h>

#include <algorithm>

CBlock CreateNewBlock(ChainState& chain, Mempool& mempool, const std::string& coinbase_to, int64_t now)
{
    std::lock_guard<std::recursive_mutex> lock(chain.cs);
    const ChainParams& params = chain.params();
    const CBlockIndex* tip = chain.Tip();
    CBlock block;
    block.header.prev = tip->hash;
    block.header.height = tip->height() + 1;
    block.header.time = std::max(now, tip->header.time);
    block.header.bits = params.pow_bits;

    AccountView view([&chain](const KeyHash& k) { return chain.GetAccount(k); });
    CAmount fees = 0;
    std::vector<CTransaction> txs;
    for (const auto& tx : mempool.Ordered()) {
        // A tx that no longer applies is skipped; revalidation drops it.
        AccountView trial = view;
        CAmount trial_fees = fees;
        const auto err = ApplyTx(trial, tx, params, trial_fees);
        if (!err.empty()) {
            LogPrint("miner: skipping tx " + HexStr(tx.GetHash()) + ": " + err);
            continue;
        }
        view = std::move(trial);
        fees = trial_fees;
        txs.push_back(tx);
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
