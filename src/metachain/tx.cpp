#include <metachain/tx.h>

#include <serialize.h>

uint256 MetaSignatureHash(int32_t kind, const std::string& from, const std::string& to, CAmount amount, uint64_t nonce)
{
    const std::string domain = "dmc-tx-v1";
    std::vector<uint8_t> buf(domain.begin(), domain.end());
    Writer w;
    w.Int<int32_t>(kind);
    w.Str(from); // u32 length + bytes
    w.Str(to);
    w.Int<int64_t>(amount);
    w.Int<uint64_t>(nonce);
    buf.insert(buf.end(), w.data().begin(), w.data().end());
    return Sha256(buf);
}
