// The context-free consensus rules of a block: what can be checked from the
// block and the chain params alone, before its parent or any state is read.
#ifndef DEFI_CONSENSUS_BLOCK_H
#define DEFI_CONSENSUS_BLOCK_H

#include <chainparams.h>
#include <consensus/validation.h>
#include <primitives/block.h>

// Difficulty bits and proof of work.
bool CheckBlockHeader(const CBlockHeader& header, const ChainParams& params, BlockValidationState& state);
// The header, then the size limits (consensus/consensus.h), the coinbase's place and height, and that the merkle root
// and payload hash match the txs and payload.
bool CheckBlock(const CBlock& block, const ChainParams& params, BlockValidationState& state);

#endif // DEFI_CONSENSUS_BLOCK_H
