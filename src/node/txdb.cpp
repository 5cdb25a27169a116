#include <node/txdb.h>

#include <serialize.h>

#include <stdexcept>

namespace {
// Key prefixes.
const char DB_ACCOUNT = 'a', DB_INDEX = 'b', DB_BLOCK = 'B', DB_UNDO = 'u', DB_TX = 't', DB_BEST = 'T',
           DB_MEMPOOL = 'm';

template <size_t N> std::string Key(char prefix, const std::array<uint8_t, N>& id)
{
    return std::string(1, prefix) + std::string(id.begin(), id.end());
}

std::string ToString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> ToBytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string EncodeAccount(const Account& a)
{
    Writer w;
    w.Int<int64_t>(a.balance);
    w.Int<uint64_t>(a.nonce);
    return ToString(w.data());
}

std::string EncodeIndex(const BlockIndexRecord& r)
{
    Writer w;
    w.Bytes(r.header.Serialize());
    w.Int<uint64_t>(r.chainwork);
    w.Int<uint8_t>(r.status);
    return ToString(w.data());
}
} // namespace

ChainDB::ChainDB(const std::string& path)
{
    leveldb::Options options;
    options.create_if_missing = true;
    options.paranoid_checks = true;
    leveldb::DB* db = nullptr;
    const auto status = leveldb::DB::Open(options, path, &db);
    if (!status.ok()) throw std::runtime_error("cannot open chain database " + path + ": " + status.ToString());
    m_db.reset(db);
}

std::optional<std::string> ChainDB::Get(const std::string& key) const
{
    std::string value;
    const auto s = m_db->Get(leveldb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) throw std::runtime_error("chain database read failed: " + s.ToString());
    return value;
}

Account ChainDB::ReadAccount(const KeyHash& key) const
{
    const auto v = Get(Key(DB_ACCOUNT, key));
    if (!v) return {};
    const auto bytes = ToBytes(*v);
    Reader r(bytes);
    Account a;
    a.balance = r.Int<int64_t>();
    a.nonce = r.Int<uint64_t>();
    return a;
}

std::optional<CBlock> ChainDB::ReadBlock(const uint256& hash) const
{
    const auto v = Get(Key(DB_BLOCK, hash));
    if (!v) return std::nullopt;
    return CBlock::Deserialize(ToBytes(*v));
}

std::optional<BlockUndo> ChainDB::ReadUndo(const uint256& hash) const
{
    const auto v = Get(Key(DB_UNDO, hash));
    if (!v) return std::nullopt;
    const auto bytes = ToBytes(*v);
    Reader r(bytes);
    BlockUndo u;
    const uint32_t n = r.Int<uint32_t>();
    for (uint32_t i = 0; i < n; ++i) {
        const auto key = r.Fixed<20>();
        Account a;
        a.balance = r.Int<int64_t>();
        a.nonce = r.Int<uint64_t>();
        u.accounts.emplace_back(key, a);
    }
    return u;
}

std::optional<uint256> ChainDB::ReadBestBlock() const
{
    const auto v = Get(std::string(1, DB_BEST));
    if (!v || v->size() != 32) return std::nullopt;
    uint256 h;
    std::copy(v->begin(), v->end(), h.begin());
    return h;
}

std::optional<uint256> ChainDB::ReadTxBlock(const uint256& txid) const
{
    const auto v = Get(Key(DB_TX, txid));
    if (!v || v->size() != 32) return std::nullopt;
    uint256 h;
    std::copy(v->begin(), v->end(), h.begin());
    return h;
}

std::map<uint256, BlockIndexRecord> ChainDB::LoadIndex() const
{
    std::map<uint256, BlockIndexRecord> out;
    std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(std::string(1, DB_INDEX)); it->Valid() && it->key()[0] == DB_INDEX; it->Next()) {
        uint256 hash;
        const auto key = it->key().ToString();
        if (key.size() != 33) throw std::runtime_error("corrupt block index key");
        std::copy(key.begin() + 1, key.end(), hash.begin());
        const auto bytes = ToBytes(it->value().ToString());
        Reader r(bytes);
        BlockIndexRecord rec;
        const auto head = r.Bytes(256);
        Reader hr(head);
        rec.header = CBlockHeader::Read(hr);
        rec.chainwork = r.Int<uint64_t>();
        rec.status = r.Int<uint8_t>();
        out.emplace(hash, rec);
    }
    return out;
}

std::vector<std::pair<KeyHash, Account>> ChainDB::ReadAllAccounts() const
{
    std::vector<std::pair<KeyHash, Account>> out;
    std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(std::string(1, DB_ACCOUNT)); it->Valid() && it->key()[0] == DB_ACCOUNT; it->Next()) {
        const auto key = it->key().ToString();
        KeyHash k;
        std::copy(key.begin() + 1, key.end(), k.begin());
        const auto bytes = ToBytes(it->value().ToString());
        Reader r(bytes);
        Account a;
        a.balance = r.Int<int64_t>();
        a.nonce = r.Int<uint64_t>();
        out.emplace_back(k, a);
    }
    return out;
}

std::vector<CTransaction> ChainDB::ReadMempool() const
{
    std::vector<CTransaction> out;
    std::unique_ptr<leveldb::Iterator> it(m_db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(std::string(1, DB_MEMPOOL)); it->Valid() && it->key()[0] == DB_MEMPOOL; it->Next())
        out.push_back(CTransaction::Deserialize(ToBytes(it->value().ToString())));
    return out;
}

void ChainDB::Batch::PutAccount(const KeyHash& key, const Account& a)
{
    if (a.balance == 0 && a.nonce == 0) {
        m_batch.Delete(Key(DB_ACCOUNT, key));
    } else {
        m_batch.Put(Key(DB_ACCOUNT, key), EncodeAccount(a));
    }
}
void ChainDB::Batch::PutIndex(const uint256& hash, const BlockIndexRecord& rec)
{
    m_batch.Put(Key(DB_INDEX, hash), EncodeIndex(rec));
}
void ChainDB::Batch::PutBlock(const uint256& hash, const CBlock& block)
{
    m_batch.Put(Key(DB_BLOCK, hash), ToString(block.Serialize()));
}
void ChainDB::Batch::PutUndo(const uint256& hash, const BlockUndo& undo)
{
    Writer w;
    w.Int<uint32_t>(static_cast<uint32_t>(undo.accounts.size()));
    for (const auto& [key, a] : undo.accounts) {
        w.Fixed(key);
        w.Int<int64_t>(a.balance);
        w.Int<uint64_t>(a.nonce);
    }
    m_batch.Put(Key(DB_UNDO, hash), ToString(w.data()));
}
void ChainDB::Batch::EraseUndo(const uint256& hash) { m_batch.Delete(Key(DB_UNDO, hash)); }
void ChainDB::Batch::PutBestBlock(const uint256& hash)
{
    m_batch.Put(std::string(1, DB_BEST), std::string(hash.begin(), hash.end()));
}
void ChainDB::Batch::PutTx(const uint256& txid, const uint256& block)
{
    m_batch.Put(Key(DB_TX, txid), std::string(block.begin(), block.end()));
}
void ChainDB::Batch::EraseTx(const uint256& txid) { m_batch.Delete(Key(DB_TX, txid)); }
void ChainDB::Batch::PutMempoolTx(const CTransaction& tx)
{
    m_batch.Put(Key(DB_MEMPOOL, tx.GetHash()), ToString(tx.Serialize()));
}
void ChainDB::Batch::EraseMempoolTx(const uint256& txid) { m_batch.Delete(Key(DB_MEMPOOL, txid)); }

void ChainDB::Write(Batch& batch)
{
    leveldb::WriteOptions options;
    options.sync = true;
    const auto s = m_db->Write(options, &batch.m_batch);
    if (!s.ok()) throw std::runtime_error("chain database write failed: " + s.ToString());
}
