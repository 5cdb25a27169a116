// Per-network constants: the address prefix, the metachain lock address,
// proof of work, the block reward and the genesis block.
#ifndef DEFI_CHAINPARAMS_H
#define DEFI_CHAINPARAMS_H

#include <amount.h>
#include <key.h>

#include <array>
#include <string>

struct CBlock;

struct ChainParams {
    std::string network;     // "main", "testnet" or "regtest"
    std::string address_hrp; // native addresses
    KeyHash lock_address;    // holds deposited funds; no key can spend it
    uint32_t pow_bits;       // the easiest target (the limit); regtest's only one
    bool retarget;           // per-block LWMA retargeting (consensus/pow.h)
    int64_t target_spacing;  // seconds between blocks that retargeting aims at
    CAmount block_reward;
    CAmount min_fee; // smallest fee the mempool accepts
    uint16_t default_rpc_port;
    int64_t genesis_time;
    std::array<uint8_t, 4> magic; // starts every P2P message (docs/p2p.md)
    uint16_t default_p2p_port;

    std::string LockAddress() const;
    // The genesis block, mined deterministically from nonce 0.
    const CBlock& Genesis() const;
};

const ChainParams& RegtestParams();
const ChainParams& TestnetParams();
const ChainParams& MainParams();
// The params of -regtest, -testnet or main; nullopt with `error` if both
// flags are given.
const ChainParams* SelectParams(bool regtest, bool testnet, std::string& error);

#endif // DEFI_CHAINPARAMS_H
