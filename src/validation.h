// Chain state: validates blocks and transactions, connects and disconnects
// blocks with undo data, follows the chain with the most work, and lets the
// operator invalidate and reconsider blocks. One mutex guards it all.
#ifndef DEFI_VALIDATION_H
#define DEFI_VALIDATION_H

#include <chainparams.h>
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

// Accounts as seen while applying txs: reads fall through to the database,
// writes stay here, and the first value of every touched account is kept
// for the undo data.
class AccountView {
public:
    explicit AccountView(std::function<Account(const KeyHash&)> base) : m_base(std::move(base)) {}
    Account Get(const KeyHash& key);
    void Set(const KeyHash& key, const Account& a);
    const std::map<KeyHash, Account>& changes() const { return m_now; }
    const std::map<KeyHash, Account>& before() const { return m_before; }

private:
    std::function<Account(const KeyHash&)> m_base;
    std::map<KeyHash, Account> m_now, m_before;
};

// Why a tx or coinbase that pays the lock address is invalid: only a
// DepositToMetachain may, so its balance always equals the metachain's supply.
extern const char* const LOCK_ADDRESS_PAID;

// Applies one non-coinbase tx to `view`, adding its fee to `fees`. Returns
// the reason it is invalid, or "" (and then the view has changed).
std::string ApplyTx(AccountView& view, const CTransaction& tx, const ChainParams& params, CAmount& fees);

// Context-free checks of a block: PoW, merkle root, payload hash, coinbase.
std::string CheckBlock(const CBlock& block, const ChainParams& params);

class Mempool;
namespace metachain {
class Backend;
}

// The metachain's view of a native Deposit/Withdraw tx, built once here.
struct NativeTxView {
    int32_t kind; // mc::TxKind value
    std::string from, to;
    uint256 txid;
    CAmount amount;
    uint64_t nonce;
    std::vector<uint8_t> pubkey, signature;
};
// The block's Deposit/Withdraw txs, in order, as the metachain sees them.
std::vector<NativeTxView> MetachainTxs(const CBlock& block, const ChainParams& params);

namespace mc {
struct MetaMintBlockInput;
}
// What the miner hands to MintBlock for these txs at this height and time.
mc::MetaMintBlockInput MintInput(const std::vector<NativeTxView>& txs, uint32_t height, int64_t time);

class ChainState {
public:
    ChainState(const ChainParams& params, const std::string& datadir, Mempool& mempool);

    // Guards every method below and the mempool.
    std::recursive_mutex cs;

    const ChainParams& params() const { return m_params; }
    CBlockIndex* Tip() const { return m_chain.back(); }
    CBlockIndex* AtHeight(uint32_t h) const { return h < m_chain.size() ? m_chain[h] : nullptr; }
    CBlockIndex* Lookup(const uint256& hash) const;
    bool InActiveChain(const CBlockIndex* idx) const { return AtHeight(idx->height()) == idx; }
    std::optional<CBlock> ReadBlock(const uint256& hash) const { return m_db.ReadBlock(hash); }
    std::optional<uint256> ReadTxBlock(const uint256& txid) const { return m_db.ReadTxBlock(txid); }
    Account GetAccount(const KeyHash& key) const { return m_db.ReadAccount(key); }
    CAmount TotalBalances() const;

    // Stores a block and moves to the best chain. Returns "" when the block
    // was accepted (even if not on the best chain), else why it is invalid.
    std::string ProcessNewBlock(const CBlock& block);
    // Marks a block and its descendants invalid and reorganises away from it.
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

private:
    void LoadOrCreate();
    CBlockIndex* AddIndex(const uint256& hash, const BlockIndexRecord& rec);
    std::string ConnectTip(CBlockIndex* idx);
    void DisconnectTip();
    void ActivateBestChain();
    void SetStatus(CBlockIndex* idx, uint8_t status);
    void AfterTipChange();

    const ChainParams& m_params;
    metachain::Backend* m_meta{nullptr};
    ChainDB m_db;
    Mempool& m_mempool;
    std::map<uint256, std::unique_ptr<CBlockIndex>> m_index;
    // Every indexed block by work: activation looks only at those above the tip.
    std::set<CBlockIndex*, MoreWork> m_by_work;
    std::vector<CBlockIndex*> m_chain;               // the active chain by height
    std::map<uint256, std::string> m_invalid_reason; // why a block failed to connect
};

#endif // DEFI_VALIDATION_H
