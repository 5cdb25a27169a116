// LevelDB storage: block index, blocks, accounts, undo data, tx index, the
// best block and the mempool's txs. A block's state changes are written in
// one synced batch, so a killed process reopens at a whole block.
#ifndef DEFI_NODE_TXDB_H
#define DEFI_NODE_TXDB_H

#include <amount.h>
#include <primitives/account.h>
#include <primitives/block.h>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

enum BlockStatus : uint8_t {
    BLOCK_HAVE_DATA = 1,
    BLOCK_FAILED = 2, // invalid, or invalidated by the operator
};

struct BlockIndexRecord {
    CBlockHeader header;
    uint64_t chainwork{0};
    uint8_t status{0};
};

// Prior values of the accounts a block changed, to undo it.
struct BlockUndo {
    std::vector<std::pair<KeyHash, Account>> accounts;
};

class ChainDB {
public:
    // Opens or creates the database; throws with the path and cause.
    explicit ChainDB(const std::string& path);

    Account ReadAccount(const KeyHash& key) const;
    std::optional<CBlock> ReadBlock(const uint256& hash) const;
    std::optional<BlockUndo> ReadUndo(const uint256& hash) const;
    std::optional<uint256> ReadBestBlock() const;
    std::optional<uint256> ReadTxBlock(const uint256& txid) const;
    std::map<uint256, BlockIndexRecord> LoadIndex() const;
    // Every account, for totals.
    std::vector<std::pair<KeyHash, Account>> ReadAllAccounts() const;
    // The persisted mempool txs.
    std::vector<CTransaction> ReadMempool() const;

    class Batch {
    public:
        void PutAccount(const KeyHash& key, const Account& a);
        void PutIndex(const uint256& hash, const BlockIndexRecord& rec);
        void PutBlock(const uint256& hash, const CBlock& block);
        void PutUndo(const uint256& hash, const BlockUndo& undo);
        void EraseUndo(const uint256& hash);
        void PutBestBlock(const uint256& hash);
        void PutTx(const uint256& txid, const uint256& block);
        void EraseTx(const uint256& txid);
        void PutMempoolTx(const CTransaction& tx);
        void EraseMempoolTx(const uint256& txid);

    private:
        friend class ChainDB;
        leveldb::WriteBatch m_batch;
    };
    // Applies the batch atomically and durably.
    void Write(Batch& batch);

private:
    std::optional<std::string> Get(const std::string& key) const;
    std::unique_ptr<leveldb::DB> m_db;
};

#endif // DEFI_NODE_TXDB_H
