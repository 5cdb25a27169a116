#include <consensus/block.h>

#include <consensus/consensus.h>
#include <consensus/pow.h>

#include <set>

bool CheckBlockHeader(const CBlockHeader& header, const ChainParams& params, BlockValidationState& state)
{
    using R = BlockValidationResult;
    // Without retargeting the bits are fixed; with it, the target must be a
    // positive number no easier than the limit (the contextual check, against
    // the previous blocks, is NextWorkRequired's).
    if (!params.retarget && header.bits != params.pow_bits) {
        return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-diffbits");
    }
    if (params.retarget) {
        const Target256 target = Target256::FromCompact(header.bits);
        if ((header.bits & 0x00800000) || target == Target256() || Target256::FromCompact(params.pow_bits) < target) {
            return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-diffbits");
        }
    }
    if (!CheckProofOfWork(header.GetHash(), header.bits)) {
        return state.Invalid(R::BLOCK_INVALID_HEADER, "high-hash (proof of work failed)");
    }
    return true;
}

bool CheckBlock(const CBlock& block, const ChainParams& params, BlockValidationState& state)
{
    using R = BlockValidationResult;
    if (!CheckBlockHeader(block.header, params, state)) return false;
    if (block.payload.size() > MAX_PAYLOAD_SIZE) return state.Invalid(R::BLOCK_CONSENSUS, "bad-payload-length");
    if (block.Serialize().size() > MAX_BLOCK_SIZE) return state.Invalid(R::BLOCK_CONSENSUS, "bad-blk-length");
    if (block.vtx.empty() || block.vtx[0].type != TxType::Coinbase) {
        return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-missing");
    }
    for (size_t i = 1; i < block.vtx.size(); ++i) {
        if (block.vtx[i].type == TxType::Coinbase) return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-multiple");
    }
    if (block.vtx[0].nonce != block.header.height) return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-height");
    // A mismatch means this copy of the block is corrupt, not that its header
    // is: the block must not be marked invalid for it.
    if (block.ComputeMerkleRoot() != block.header.merkle_root)
        return state.Invalid(R::BLOCK_MUTATED, "bad-txnmrklroot");
    // Two tx lists can share a merkle root when one repeats txs (the last of an
    // odd level is paired with itself), so a repeated txid is corruption too.
    std::set<uint256> txids;
    for (const auto& tx : block.vtx) {
        if (!txids.insert(tx.GetHash()).second) return state.Invalid(R::BLOCK_MUTATED, "bad-txns-duplicate");
    }
    if (PayloadHash(block.payload) != block.header.payload_hash) {
        return state.Invalid(R::BLOCK_MUTATED, "bad-payload-hash");
    }
    return true;
}
