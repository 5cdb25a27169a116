// Chain state: validates blocks and transactions, connects and disconnects
// blocks with undo data, follows the chain with the most work, and lets the
// operator invalidate and reconsider blocks. One mutex guards it all.
#ifndef DEFI_VALIDATION_H
#define DEFI_VALIDATION_H

#include <chainparams.h>
#include <consensus/validation.h>
#include <node/txdb.h>
#include <primitives/block.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

struct CBlockIndex {
    uint256 hash{};
    CBlockHeader header;
    CBlockIndex* prev{nullptr};
    uint64_t chainwork{0};
    uint8_t status{0};
    // This block and every ancestor have their data: it can be connected.
    bool chain_data{false};
    uint32_t height() const { return header.height; }
    bool HaveData() const { return status & BLOCK_HAVE_DATA; }
    bool Failed() const { return status & BLOCK_FAILED; }
};

// Most work first; equal work by hash, so the choice between equals is fixed.
struct MoreWork {
    bool operator()(const CBlockIndex* a, const CBlockIndex* b) const
    {
        return a->chainwork != b->chainwork ? a->chainwork > b->chainwork : a->hash < b->hash;
    }
};

class Mempool;
class ValidationSignals;
namespace metachain {
class Backend;
}

class ChainState {
public:
    ChainState(const ChainParams& params, const std::string& datadir, Mempool& mempool,
               ValidationSignals* signals = nullptr);

    // Guards every method below and the mempool.
    std::recursive_mutex cs;

    const ChainParams& params() const { return m_params; }
    CBlockIndex* Tip() const { return m_chain.back(); }
    CBlockIndex* AtHeight(uint32_t h) const { return h < m_chain.size() ? m_chain[h] : nullptr; }
    CBlockIndex* Lookup(const uint256& hash) const;
    // The most-work block in the index that is not invalid, with or without
    // its data: how far the headers reach.
    const CBlockIndex* BestHeader() const;
    // Every block no other block builds on: the tips of all branches.
    std::vector<const CBlockIndex*> ChainTips() const;
    // Whether the tip is more than a day old, as bitcoind judges a node that
    // is still catching up.
    bool IsInitialBlockDownload(int64_t now) const;
    bool InActiveChain(const CBlockIndex* idx) const { return AtHeight(idx->height()) == idx; }
    std::optional<CBlock> ReadBlock(const uint256& hash) const { return m_db.ReadBlock(hash); }
    std::optional<uint256> ReadTxBlock(const uint256& txid) const { return m_db.ReadTxBlock(txid); }
    Account GetAccount(const KeyHash& key) const { return m_db.ReadAccount(key); }
    CAmount TotalBalances() const;

    // Adds a header to the index (without its block) once it passes the
    // header rules and connects to a known, valid parent; `out` gets its
    // index entry, also when it was known already.
    bool AcceptBlockHeader(const CBlockHeader& header, BlockValidationState& state, const CBlockIndex** out = nullptr);
    // Hashes from `from` back to genesis, dense near `from` then doubling
    // steps (at most MAX_LOCATOR_SIZE), for getheaders.
    std::vector<uint256> GetLocator(const CBlockIndex* from) const;
    // The last block of the active chain that `locator` names (genesis if none).
    const CBlockIndex* FindFork(const std::vector<uint256>& locator) const;
    // `idx`'s ancestor at `height` (idx itself at its own height).
    static const CBlockIndex* Ancestor(const CBlockIndex* idx, uint32_t height);
    static constexpr size_t MAX_LOCATOR_SIZE = 101;
    // The bits a block on `prev` must carry (consensus/pow.h).
    uint32_t NextWorkRequired(const CBlockIndex* prev) const;

    // Stores a block and moves to the best chain. Returns true when the block
    // is valid as far as it was checked (even if not on the best chain; then
    // it is connected only when its branch has the most work); `new_block`
    // says whether it was not already stored. Else `state` says why not.
    bool ProcessNewBlock(const CBlock& block, BlockValidationState& state, bool* new_block = nullptr);
    // Marks a block and its descendants invalid and reorganises away from it.
    // Returns "" or why it cannot.
    std::string InvalidateBlock(const uint256& hash);
    // Clears the invalid marks of a block, its ancestors and descendants.
    std::string ReconsiderBlock(const uint256& hash);

    // Every block from now on carries a metachain payload connected through
    // `meta`; null runs the native chain alone.
    void SetMetachain(metachain::Backend* meta) { m_meta = meta; }
    metachain::Backend* Metachain() const { return m_meta; }
    // Brings the metachain to this chain's tip: replays missing payloads or
    // disconnects blocks it has beyond the tip. Throws if it cannot.
    void SyncMetachain();
    // Re-admits the mempool txs stored before a stop or crash; returns how
    // many are back.
    size_t LoadMempool();
    // Connects the stored blocks that have more work than the tip: a block
    // stored but not connected when the node stopped (a crash, or a failed
    // metachain, between storing and connecting it) is never asked of a peer
    // again, so nothing else would connect it until a newer block arrives.
    void ActivateStoredBlocks();

private:
    void LoadOrCreate();
    CBlockIndex* AddIndex(const uint256& hash, const BlockIndexRecord& rec);
    // Sets chain_data on `idx` if it and its parent qualify, then on its
    // waiting descendants.
    void UpdateChainData(CBlockIndex* idx);
    bool ConnectTip(CBlockIndex* idx, BlockValidationState& state);
    void DisconnectTip();
    void ActivateBestChain();
    void SetStatus(CBlockIndex* idx, uint8_t status);
    void AfterTipChange();
    // Drops the pooled withdrawals whose meta nonce the metachain has used: after
    // a reorg, a withdrawal of the losing branch comes back to the pool though
    // another one took its nonce on the winning branch. It can never be mined,
    // and left in the pool it pushes the account's next withdrawal and EVM
    // nonces (committed nonce + pooled withdrawals) past the metachain's.
    void DropUsedWithdrawals();

    const ChainParams& m_params;
    metachain::Backend* m_meta{nullptr};
    ChainDB m_db;
    Mempool& m_mempool;
    ValidationSignals* m_signals;
    std::map<uint256, std::unique_ptr<CBlockIndex>> m_index;
    // Every indexed block by work: activation looks only at those above the tip.
    std::set<CBlockIndex*, MoreWork> m_by_work;
    std::vector<CBlockIndex*> m_chain;                       // the active chain by height
    std::multimap<CBlockIndex*, CBlockIndex*> m_children;    // parent -> child, for chain_data
    std::map<uint256, BlockValidationState> m_invalid_state; // why a block failed to connect
};

#endif // DEFI_VALIDATION_H
