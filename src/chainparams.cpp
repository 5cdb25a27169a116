#include <chainparams.h>

#include <bech32.h>
#include <primitives/block.h>

#include <map>
#include <mutex>

std::string ChainParams::LockAddress() const { return EncodeAddress(address_hrp, lock_address); }

static KeyHash LockHash(const std::string& network)
{
    // A hash with no known preimage key: nobody can sign for it.
    const std::string seed = "defi-metachain-lock/" + network;
    const uint256 h = Sha256(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    KeyHash out;
    std::copy(h.begin(), h.begin() + 20, out.begin());
    return out;
}

static CBlock MineGenesis(const ChainParams& p)
{
    CBlock b;
    CTransaction coinbase;
    coinbase.type = TxType::Coinbase;
    coinbase.to = p.LockAddress();
    coinbase.amount = 0;
    b.vtx.push_back(coinbase);
    b.header.time = p.genesis_time;
    b.header.bits = p.pow_bits;
    b.header.merkle_root = b.ComputeMerkleRoot();
    while (!CheckProofOfWork(b.GetHash(), b.header.bits))
        ++b.header.nonce;
    return b;
}

const CBlock& ChainParams::Genesis() const
{
    static std::mutex mutex;
    static std::map<std::string, CBlock> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(network);
    if (it == cache.end()) it = cache.emplace(network, MineGenesis(*this)).first;
    return it->second;
}

const ChainParams& RegtestParams()
{
    static const ChainParams p{"regtest", "dfrt",     LockHash("regtest"),      0x207fffff, false, 30, 50 * COIN, 1000,
                               19554,     1700000000, {0xfa, 0xbf, 0xb5, 0xda}, 19555};
    return p;
}

const ChainParams& TestnetParams()
{
    static const ChainParams p{"testnet", "tf",       LockHash("testnet"),      0x1f00ffff, true, 30, 50 * COIN, 10000,
                               18554,     1700000000, {0x0b, 0x11, 0x09, 0x07}, 18555};
    return p;
}

const ChainParams& MainParams()
{
    static const ChainParams p{"main", "df",       LockHash("main"),         0x1f00ffff, true, 30, 50 * COIN, 10000,
                               8554,   1700000000, {0xd1, 0xef, 0x4d, 0x43}, 8555};
    return p;
}

const ChainParams* SelectParams(bool regtest, bool testnet, std::string& error)
{
    if (regtest && testnet) {
        error = "-regtest and -testnet exclude each other; give one";
        return nullptr;
    }
    return regtest ? &RegtestParams() : testnet ? &TestnetParams() : &MainParams();
}
