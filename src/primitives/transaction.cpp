#include <primitives/transaction.h>

#include <serialize.h>

const char* TxTypeName(TxType t)
{
    switch (t) {
    case TxType::Coinbase:
        return "coinbase";
    case TxType::Transfer:
        return "transfer";
    case TxType::DepositToMetachain:
        return "deposittometachain";
    case TxType::WithdrawFromMetachain:
        return "withdrawfrommetachain";
    }
    return "unknown";
}

static void WriteBody(Writer& w, const CTransaction& tx)
{
    w.Int<uint8_t>(static_cast<uint8_t>(tx.type));
    w.Fixed(tx.from);
    w.Str(tx.to);
    w.Int<int64_t>(tx.amount);
    w.Int<int64_t>(tx.fee);
    w.Int<uint64_t>(tx.nonce);
    w.Str(tx.meta_from);
    w.Int<uint64_t>(tx.meta_nonce);
    w.Bytes(tx.meta_signature);
}

void WriteTx(Writer& w, const CTransaction& tx)
{
    WriteBody(w, tx);
    w.Bytes(tx.signature);
}

CTransaction ReadTx(Reader& r)
{
    CTransaction tx;
    const uint8_t type = r.Int<uint8_t>();
    if (type > static_cast<uint8_t>(TxType::WithdrawFromMetachain)) {
        throw SerializeError("unknown tx type " + std::to_string(type));
    }
    tx.type = static_cast<TxType>(type);
    tx.from = r.Fixed<33>();
    tx.to = r.Ascii(128);
    tx.amount = r.Int<int64_t>();
    tx.fee = r.Int<int64_t>();
    tx.nonce = r.Int<uint64_t>();
    tx.meta_from = r.Ascii(MAX_META_ADDRESS_LENGTH);
    tx.meta_nonce = r.Int<uint64_t>();
    tx.meta_signature = r.Bytes(META_SIGNATURE_SIZE);
    tx.signature = r.Bytes(72);
    return tx;
}

std::vector<uint8_t> CTransaction::Serialize() const
{
    Writer w;
    WriteTx(w, *this);
    return w.take();
}

CTransaction CTransaction::Deserialize(const std::vector<uint8_t>& bytes)
{
    Reader r(bytes);
    CTransaction tx = ReadTx(r);
    r.ExpectEnd();
    return tx;
}

uint256 CTransaction::SignatureHash() const
{
    Writer w;
    WriteBody(w, *this);
    return Sha256d(w.data());
}

uint256 CTransaction::GetHash() const { return Sha256d(Serialize()); }
