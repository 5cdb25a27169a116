"""A metachain key held by the test, apart from defid's wallet.

Written from the docs, not from the node's code: bech32m addresses over the first
20 bytes of sha256(compressed pubkey), the dmc-tx-v1 signing hash
(docs/metachain.md) and the native tx serialization (docs/node.md,
little-endian, u32 length prefixes). A raw tx built here that the node accepts,
with the txid the node reports, checks both sides of each format."""
import hashlib
import struct

from ecdsa import SECP256k1, SigningKey
from ecdsa.util import sigencode_string_canonize

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3
KIND_WITHDRAW = 2  # TxKind in protobuf/types/metachain.proto
TX_WITHDRAW = 3  # TxType in src/primitives/transaction.h


def _polymod(values):
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(gen):
            if (top >> i) & 1:
                chk ^= g
    return chk


def bech32m(hrp, data):
    """bech32m of `data` regrouped into 5-bit words, no version word."""
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = acc << 8 | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append(acc >> bits & 31)
    if bits:
        words.append(acc << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _polymod(expanded + words + [0] * 6) ^ BECH32M_CONST
    checksum = [poly >> 5 * (5 - i) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[w] for w in words + checksum)


def _str(b):
    return struct.pack("<I", len(b)) + b


def sha256(b):
    return hashlib.sha256(b).digest()


class MetaKey:
    def __init__(self, secret):
        self.sk = SigningKey.from_secret_exponent(secret, curve=SECP256k1)
        self.pubkey = self.sk.get_verifying_key().to_string("compressed")
        self.address = bech32m("dmc", sha256(self.pubkey)[:20])

    def sign(self, kind, frm, to, amount, nonce):
        """64-byte low-S signature over the dmc-tx-v1 hash."""
        digest = sha256(b"dmc-tx-v1" + struct.pack("<i", kind) + _str(frm.encode()) + _str(to.encode())
                        + struct.pack("<qQ", amount, nonce))
        return self.sk.sign_digest_deterministic(digest, hashfunc=hashlib.sha256,
                                                 sigencode=sigencode_string_canonize)


def withdrawal(meta_from, to, amount_sat, fee_sat, meta_nonce, pubkey, signature):
    """A serialized native WithdrawFromMetachain (no native sender or signature)."""
    return (bytes([TX_WITHDRAW]) + bytes(33) + _str(to.encode()) + struct.pack("<qqQ", amount_sat, fee_sat, 0)
            + _str(meta_from.encode()) + struct.pack("<Q", meta_nonce) + _str(pubkey) + _str(signature)
            + _str(b""))


def txid(raw):
    return sha256(sha256(raw)).hex()
