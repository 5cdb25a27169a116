// Native blocks. The header commits to the txs (merkle root) and to the
// metachain payload (sha256(payload), which is also the metachain block hash).
#ifndef DEFI_PRIMITIVES_BLOCK_H
#define DEFI_PRIMITIVES_BLOCK_H

#include <primitives/transaction.h>

#include <vector>

struct CBlockHeader {
    int32_t version{1};
    uint256 prev{};
    uint32_t height{0};
    int64_t time{0};
    uint256 merkle_root{};
    uint256 payload_hash{};
    uint32_t bits{0};
    uint64_t nonce{0};

    std::vector<uint8_t> Serialize() const;
    static CBlockHeader Read(class Reader& r);
    uint256 GetHash() const;
};

// Largest serialized block a node reads, from any source.
constexpr size_t MAX_BLOCK_SERIALIZED_SIZE = 32 << 20;

struct CBlock {
    CBlockHeader header;
    std::vector<CTransaction> vtx;
    std::vector<uint8_t> payload; // the metachain block; empty without a metachain

    std::vector<uint8_t> Serialize() const;
    static CBlock Deserialize(const std::vector<uint8_t>& bytes);
    uint256 GetHash() const { return header.GetHash(); }
    uint256 ComputeMerkleRoot() const;
};

// Hash of an empty payload is all zeros, so blocks without a metachain carry none.
uint256 PayloadHash(const std::vector<uint8_t>& payload);

// Proof of work: the hash, read as a big-endian number, is at most the target.
bool CheckProofOfWork(const uint256& hash, uint32_t bits);
// Work of one block at `bits`, in units where the easiest target counts 1.
uint64_t BlockWork(uint32_t bits);

#endif // DEFI_PRIMITIVES_BLOCK_H
