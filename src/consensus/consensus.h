// Consensus limits on a block's size.
#ifndef DEFI_CONSENSUS_CONSENSUS_H
#define DEFI_CONSENSUS_CONSENSUS_H

#include <cstddef>

// The largest valid block, serialized with its txs and payload.
constexpr size_t MAX_BLOCK_SIZE = 32 << 20;
// The largest valid metachain payload in a block.
constexpr size_t MAX_PAYLOAD_SIZE = 16 << 20;

#endif // DEFI_CONSENSUS_CONSENSUS_H
