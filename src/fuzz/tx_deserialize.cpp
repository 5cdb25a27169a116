// Bytes -> CTransaction::Deserialize. Anything but a SerializeError escaping
// is a crash. A tx that decodes must serialize back to the same bytes, hash
// them, and decode, sign-check and print as JSON without surprises.
#include <fuzz/fuzz.h>

#include <chainparams.h>
#include <key.h>
#include <primitives/transaction.h>
#include <rpc/util.h>
#include <serialize.h>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::vector<uint8_t> bytes(data, data + size);
    CTransaction tx;
    try {
        tx = CTransaction::Deserialize(bytes);
    } catch (const SerializeError&) {
        return 0;
    }
    const std::vector<uint8_t> again = tx.Serialize();
    FUZZ_ASSERT(again == bytes, "re-serialization differs from the input");
    FUZZ_ASSERT(tx.Size() == size, "Size() differs from the input size");
    FUZZ_ASSERT(tx.GetHash() == Sha256d(bytes), "GetHash is not sha256d of the serialization");

    // The signature hash covers everything but the signature.
    const uint256 sighash = tx.SignatureHash();
    CTransaction unsigned_tx = tx;
    unsigned_tx.signature.clear();
    FUZZ_ASSERT(unsigned_tx.SignatureHash() == sighash, "SignatureHash depends on the signature");
    const std::vector<uint8_t> body(again.begin(), again.end() - 4 - tx.signature.size());
    FUZZ_ASSERT(sighash == Sha256d(body), "SignatureHash is not sha256d of the unsigned body");
    (void)VerifySignature(tx.from, sighash, tx.signature);

    const CTransaction decoded = CTransaction::Deserialize(again);
    FUZZ_ASSERT(decoded.GetHash() == tx.GetHash(), "decode(encode(tx)) changed the tx");

    // What decoderawtransaction answers.
    const json j = TxToJSON(tx, RegtestParams());
    FUZZ_ASSERT(json::accept(WriteJSON(j)), "TxToJSON wrote invalid JSON");
    return 0;
}
