// Bytes -> CBlock::Deserialize, then the context-free CheckBlock. Anything
// but a SerializeError escaping is a crash. A block that decodes must
// serialize back to the same bytes.
#include <fuzz/fuzz.h>

#include <chainparams.h>
#include <primitives/block.h>
#include <serialize.h>
#include <consensus/block.h>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::vector<uint8_t> bytes(data, data + size);
    CBlock block;
    try {
        block = CBlock::Deserialize(bytes);
    } catch (const SerializeError&) {
        return 0;
    }
    const std::vector<uint8_t> again = block.Serialize();
    FUZZ_ASSERT(again == bytes, "re-serialization differs from the input");
    FUZZ_ASSERT(block.GetHash() == Sha256d(block.header.Serialize()), "block hash is not sha256d of the header");
    const CBlock decoded = CBlock::Deserialize(again);
    FUZZ_ASSERT(decoded.GetHash() == block.GetHash() && decoded.vtx.size() == block.vtx.size() &&
                    decoded.payload == block.payload,
                "decode(encode(block)) changed the block");

    BlockValidationState state;
    if (CheckBlock(block, RegtestParams(), state)) {
        // What CheckBlock promises for an accepted block.
        FUZZ_ASSERT(!block.vtx.empty() && block.vtx[0].type == TxType::Coinbase, "accepted without a coinbase");
        FUZZ_ASSERT(block.ComputeMerkleRoot() == block.header.merkle_root, "accepted with a bad merkle root");
        FUZZ_ASSERT(PayloadHash(block.payload) == block.header.payload_hash, "accepted with a bad payload hash");
        FUZZ_ASSERT(CheckProofOfWork(block.GetHash(), block.header.bits), "accepted without proof of work");
    }
    BlockValidationState main_state;
    (void)CheckBlock(block, MainParams(), main_state);
    (void)BlockWork(block.header.bits);
    return 0;
}
