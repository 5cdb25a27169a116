#include <primitives/block.h>

#include <serialize.h>

#include <algorithm>

std::vector<uint8_t> CBlockHeader::Serialize() const
{
    Writer w;
    w.Int<int32_t>(version);
    w.Fixed(prev);
    w.Int<uint32_t>(height);
    w.Int<int64_t>(time);
    w.Fixed(merkle_root);
    w.Fixed(payload_hash);
    w.Int<uint32_t>(bits);
    w.Int<uint64_t>(nonce);
    return w.take();
}

CBlockHeader CBlockHeader::Read(Reader& r)
{
    CBlockHeader h;
    h.version = r.Int<int32_t>();
    h.prev = r.Fixed<32>();
    h.height = r.Int<uint32_t>();
    h.time = r.Int<int64_t>();
    h.merkle_root = r.Fixed<32>();
    h.payload_hash = r.Fixed<32>();
    h.bits = r.Int<uint32_t>();
    h.nonce = r.Int<uint64_t>();
    return h;
}

uint256 CBlockHeader::GetHash() const { return Sha256d(Serialize()); }

std::vector<uint8_t> CBlock::Serialize() const
{
    Writer w;
    const auto head = header.Serialize();
    w.Bytes(head);
    w.Int<uint32_t>(static_cast<uint32_t>(vtx.size()));
    for (const auto& tx : vtx)
        WriteTx(w, tx);
    w.Bytes(payload);
    return w.take();
}

CBlock CBlock::Deserialize(const std::vector<uint8_t>& bytes)
{
    if (bytes.size() > MAX_BLOCK_SERIALIZED_SIZE) {
        throw SerializeError("block of " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                             std::to_string(MAX_BLOCK_SERIALIZED_SIZE));
    }
    Reader r(bytes);
    CBlock b;
    const auto head = r.Bytes(256);
    Reader hr(head);
    b.header = CBlockHeader::Read(hr);
    hr.ExpectEnd();
    const uint32_t n = r.Int<uint32_t>();
    if (n > 1000000) throw SerializeError("too many transactions");
    for (uint32_t i = 0; i < n; ++i)
        b.vtx.push_back(ReadTx(r));
    b.payload = r.Bytes();
    r.ExpectEnd();
    return b;
}

uint256 CBlock::ComputeMerkleRoot() const
{
    if (vtx.empty()) return uint256{};
    std::vector<uint256> level;
    for (const auto& tx : vtx)
        level.push_back(tx.GetHash());
    while (level.size() > 1) {
        if (level.size() % 2) level.push_back(level.back());
        std::vector<uint256> next;
        for (size_t i = 0; i < level.size(); i += 2) {
            std::vector<uint8_t> pair(level[i].begin(), level[i].end());
            pair.insert(pair.end(), level[i + 1].begin(), level[i + 1].end());
            next.push_back(Sha256d(pair));
        }
        level = std::move(next);
    }
    return level[0];
}

uint256 PayloadHash(const std::vector<uint8_t>& payload) { return payload.empty() ? uint256{} : Sha256(payload); }

// Target from compact bits, big-endian.
static uint256 Target(uint32_t bits)
{
    uint256 t{};
    const int size = static_cast<int>(bits >> 24);
    const uint32_t mantissa = bits & 0x007fffff;
    for (int i = 0; i < 3; ++i) {
        const int pos = 32 - size + i; // big-endian byte index
        if (pos >= 0 && pos < 32) t[pos] = static_cast<uint8_t>(mantissa >> (8 * (2 - i)));
    }
    return t;
}

bool CheckProofOfWork(const uint256& hash, uint32_t bits)
{
    const uint256 target = Target(bits);
    return std::lexicographical_compare(hash.begin(), hash.end(), target.begin(), target.end()) || hash == target;
}

uint64_t BlockWork(uint32_t bits)
{
    const uint256 target = Target(bits);
    uint64_t top = 0;
    for (int i = 0; i < 8; ++i)
        top = top << 8 | target[i];
    // About 2^64 / (top + 1): the expected number of hashes, scaled.
    return top == UINT64_MAX ? 1 : UINT64_MAX / (top + 1) + 1;
}
