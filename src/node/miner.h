// Block assembly: mempool txs that still apply, a coinbase paying reward +
// fees, and a nonce ground until the proof of work holds.
#ifndef DEFI_NODE_MINER_H
#define DEFI_NODE_MINER_H

#include <primitives/block.h>

#include <string>

class ChainState;
class Mempool;

// Assembles and mines a block on the tip paying `coinbase_to`. With a
// metachain, its payload comes from MintBlock, naming `meta_beneficiary` (a
// 0x address; "" for the zero address) as the metachain block's beneficiary,
// which receives its priority fees; txs the metachain refused are left out of
// the block and dropped from the mempool, with the reason logged. Throws
// metachain::Error if the metachain fails.
CBlock CreateNewBlock(ChainState& chain, Mempool& mempool, const std::string& coinbase_to, int64_t now,
                      const std::string& meta_beneficiary = "");

#endif // DEFI_NODE_MINER_H
