"""Native txs and blocks in Python, written from docs/node.md and
src/primitives/{transaction,block}.cpp, src/serialize.h: little-endian
integers, u32 length prefixes, 33-byte pubkeys and 32-byte hashes as they are.

    tx = CTransaction(type=TX_TRANSFER, to=addr, amount=..., fee=..., nonce=n)
    tx.sign(NativeKey(0x1234))            # sets `from` and `signature`
    node.sendrawtransaction(tx.serialize().hex()) == tx.txid

    block = CBlock.deserialize(bytes.fromhex(node.getblock(h, 0)))
    block.vtx[0].to = other; block.rehash_and_solve()
    node.submitblock(block.serialize().hex())

Hashes are shown as the node shows them: the bytes in order, in hex (no
reversal as in Bitcoin)."""
import hashlib
import struct

from ecdsa import SECP256k1, SigningKey
from ecdsa.util import sigencode_string_canonize

from .meta_key import bech32m

TX_COINBASE, TX_TRANSFER, TX_DEPOSIT, TX_WITHDRAW = 0, 1, 2, 3
TX_TYPE_NAMES = {TX_COINBASE: "coinbase", TX_TRANSFER: "transfer", TX_DEPOSIT: "deposittometachain",
                 TX_WITHDRAW: "withdrawfrommetachain"}
COIN = 100_000_000
REGTEST_BITS = 0x207FFFFF
REGTEST_REWARD = 50 * COIN
REGTEST_HRP = "dfrt"
# Reader limits of src/primitives/transaction.cpp: a native address, a 0x meta
# address ("0x" + 40 hex digits), a 65-byte EIP-712 meta signature, a native signature.
MAX_ADDRESS_LEN, MAX_META_ADDRESS_LEN, META_SIGNATURE_SIZE, MAX_SIG_LEN = 128, 42, 65, 72


def sha256(b):
    return hashlib.sha256(b).digest()


def sha256d(b):
    return sha256(sha256(b))


class SerializeError(ValueError):
    pass


class Writer:
    def __init__(self):
        self.out = bytearray()

    def int(self, fmt, v):
        self.out += struct.pack("<" + fmt, v)
        return self

    def bytes(self, b):
        self.out += struct.pack("<I", len(b)) + bytes(b)
        return self

    def str(self, s):
        return self.bytes(s.encode() if isinstance(s, str) else s)

    def fixed(self, b, n):
        if len(b) != n:
            raise SerializeError(f"fixed field of {n} bytes given {len(b)}")
        self.out += bytes(b)
        return self


class Reader:
    def __init__(self, data):
        self.data, self.pos = bytes(data), 0

    def need(self, n):
        if len(self.data) - self.pos < n:
            raise SerializeError("unexpected end of data")

    def int(self, fmt):
        size = struct.calcsize("<" + fmt)
        self.need(size)
        (v,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return v

    def bytes(self, limit=64 << 20):
        n = self.int("I")
        if n > limit:
            raise SerializeError(f"length {n} over limit")
        self.need(n)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def str(self, limit=1 << 16):
        return self.bytes(limit).decode("utf-8", "surrogateescape")

    def ascii(self, limit):
        """Printable ASCII without space, as src/serialize.h's Reader::Ascii."""
        b = self.bytes(limit)
        if any(c < 0x21 or c > 0x7E for c in b):
            raise SerializeError("address field holds a byte that is not printable ASCII")
        return b.decode("ascii")

    def fixed(self, n):
        self.need(n)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def expect_end(self):
        if self.pos != len(self.data):
            raise SerializeError("trailing bytes")


def address(pubkey, hrp=REGTEST_HRP):
    """bech32m over the first 20 bytes of sha256(compressed pubkey)."""
    return bech32m(hrp, sha256(pubkey)[:20])


class NativeKey:
    """A native secp256k1 key held by the test; signs as src/key.cpp does
    (64-byte compact r||s, low-S, RFC 6979 nonces, the 32-byte hash as is)."""

    def __init__(self, secret):
        self.sk = SigningKey.from_secret_exponent(secret, curve=SECP256k1)
        self.pubkey = self.sk.get_verifying_key().to_string("compressed")
        self.address = address(self.pubkey)

    def sign_hash(self, digest):
        return self.sk.sign_digest_deterministic(digest, hashfunc=hashlib.sha256,
                                                 sigencode=sigencode_string_canonize)


class CTransaction:
    def __init__(self, type=TX_TRANSFER, from_=bytes(33), to="", amount=0, fee=0, nonce=0, meta_from="",
                 meta_nonce=0, meta_signature=b"", signature=b""):
        self.type, self.from_, self.to = type, bytes(from_), to
        self.amount, self.fee, self.nonce = amount, fee, nonce
        self.meta_from, self.meta_nonce = meta_from, meta_nonce
        self.meta_signature = bytes(meta_signature)
        self.signature = bytes(signature)

    def _body(self, w):
        w.int("B", self.type).fixed(self.from_, 33).str(self.to)
        w.int("q", self.amount).int("q", self.fee).int("Q", self.nonce)
        w.str(self.meta_from).int("Q", self.meta_nonce).bytes(self.meta_signature)
        return w

    def write(self, w):
        self._body(w).bytes(self.signature)

    def serialize(self):
        w = Writer()
        self.write(w)
        return bytes(w.out)

    @classmethod
    def read(cls, r):
        tx = cls()
        tx.type = r.int("B")
        if tx.type > TX_WITHDRAW:
            raise SerializeError(f"unknown tx type {tx.type}")
        tx.from_ = r.fixed(33)
        tx.to = r.ascii(MAX_ADDRESS_LEN)
        tx.amount, tx.fee, tx.nonce = r.int("q"), r.int("q"), r.int("Q")
        tx.meta_from = r.ascii(MAX_META_ADDRESS_LEN)
        tx.meta_nonce = r.int("Q")
        tx.meta_signature = r.bytes(META_SIGNATURE_SIZE)
        tx.signature = r.bytes(MAX_SIG_LEN)
        return tx

    @classmethod
    def deserialize(cls, data):
        r = Reader(data)
        tx = cls.read(r)
        r.expect_end()
        return tx

    def signature_hash(self):
        """sha256d of everything but the signature."""
        return sha256d(bytes(self._body(Writer()).out))

    def sign(self, key):
        """Sets `from` to `key` and signs (Transfer and Deposit)."""
        self.from_ = key.pubkey
        self.signature = key.sign_hash(self.signature_hash())
        return self

    @property
    def hash(self):
        return sha256d(self.serialize())

    @property
    def txid(self):
        return self.hash.hex()

    def __repr__(self):
        return (f"CTransaction({TX_TYPE_NAMES.get(self.type, self.type)}, to={self.to!r}, "
                f"amount={self.amount}, fee={self.fee}, nonce={self.nonce})")


def transfer(key, to, amount, fee, nonce, type=TX_TRANSFER):
    """A signed Transfer (or, with type=TX_DEPOSIT and a meta `to`, a Deposit)."""
    return CTransaction(type=type, to=to, amount=amount, fee=fee, nonce=nonce).sign(key)


def coinbase(to, amount, height):
    return CTransaction(type=TX_COINBASE, to=to, amount=amount, nonce=height)


def compact_target(bits):
    """The 32-byte big-endian target of compact `bits` (as block.cpp's Target)."""
    t = bytearray(32)
    size, mantissa = bits >> 24, bits & 0x007FFFFF
    for i in range(3):
        pos = 32 - size + i
        if 0 <= pos < 32:
            t[pos] = (mantissa >> (8 * (2 - i))) & 0xFF
    return bytes(t)


def check_proof_of_work(block_hash, bits):
    """The hash, read as a big-endian number, is at most the target."""
    return int.from_bytes(block_hash, "big") <= int.from_bytes(compact_target(bits), "big")


class CBlockHeader:
    SIZE = 4 + 32 + 4 + 8 + 32 + 32 + 4 + 8

    def __init__(self, version=1, prev=bytes(32), height=0, time=0, merkle_root=bytes(32),
                 payload_hash=bytes(32), bits=REGTEST_BITS, nonce=0):
        self.version, self.prev, self.height, self.time = version, bytes(prev), height, time
        self.merkle_root, self.payload_hash = bytes(merkle_root), bytes(payload_hash)
        self.bits, self.nonce = bits, nonce

    def serialize(self):
        w = Writer()
        w.int("i", self.version).fixed(self.prev, 32).int("I", self.height).int("q", self.time)
        w.fixed(self.merkle_root, 32).fixed(self.payload_hash, 32).int("I", self.bits).int("Q", self.nonce)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, data):
        r = Reader(data)
        h = cls(r.int("i"), r.fixed(32), r.int("I"), r.int("q"), r.fixed(32), r.fixed(32), r.int("I"), r.int("Q"))
        r.expect_end()
        return h

    @property
    def hash(self):
        return sha256d(self.serialize())

    def solve(self, max_tries=10_000_000):
        """Grinds the nonce until the proof of work holds (instant on regtest)."""
        head = bytearray(self.serialize())
        for nonce in range(self.nonce, self.nonce + max_tries):
            struct.pack_into("<Q", head, self.SIZE - 8, nonce)
            if check_proof_of_work(sha256d(head), self.bits):
                self.nonce = nonce
                return self
        raise RuntimeError("no nonce found")


def merkle_root(txids):
    """As CBlock::ComputeMerkleRoot: sha256d of pairs, the last one doubled
    on an odd level; all zeros for no txs."""
    if not txids:
        return bytes(32)
    level = list(txids)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def payload_hash(payload):
    """sha256 of the metachain payload; all zeros for none."""
    return sha256(payload) if payload else bytes(32)


class CBlock:
    def __init__(self, header=None, vtx=(), payload=b""):
        self.header = header or CBlockHeader()
        self.vtx = list(vtx)
        self.payload = bytes(payload)

    def serialize(self):
        w = Writer()
        w.bytes(self.header.serialize())
        w.int("I", len(self.vtx))
        for tx in self.vtx:
            tx.write(w)
        w.bytes(self.payload)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, data):
        r = Reader(data)
        header = CBlockHeader.deserialize(r.bytes(256))
        n = r.int("I")
        if n > 1_000_000:
            raise SerializeError("too many transactions")
        vtx = [CTransaction.read(r) for _ in range(n)]
        payload = r.bytes()
        r.expect_end()
        return cls(header, vtx, payload)

    def compute_merkle_root(self):
        return merkle_root([tx.hash for tx in self.vtx])

    def rehash_and_solve(self):
        """Recomputes the merkle root and payload hash, then grinds the nonce."""
        self.header.merkle_root = self.compute_merkle_root()
        self.header.payload_hash = payload_hash(self.payload)
        self.header.nonce = 0
        self.header.solve()
        return self

    @property
    def hash(self):
        return self.header.hash

    @property
    def hash_hex(self):
        return self.hash.hex()


def block_on_tip(node, coinbase_to, txs=(), payload=b"", time=None, reward=REGTEST_REWARD):
    """A block on `node`'s tip built here: the coinbase pays reward + the txs'
    fees to `coinbase_to`; valid PoW and merkle root."""
    tip = node.getblock(node.getbestblockhash())
    height = tip["height"] + 1
    fees = sum(tx.fee for tx in txs)
    header = CBlockHeader(prev=bytes.fromhex(tip["hash"]), height=height,
                          time=tip["time"] if time is None else time, bits=REGTEST_BITS)
    block = CBlock(header, [coinbase(coinbase_to, reward + fees, height), *txs], payload)
    return block.rehash_and_solve()
