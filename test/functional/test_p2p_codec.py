"""The Python P2P codec (framework/p2p.py, written from docs/p2p.md) against
the golden vectors that src/test/protocol_tests.cpp checks for the C++ codec
and that docs/p2p.md shows, plus every limit, and P2PConnection against a
scripted peer on loopback. No node needed."""
import os
import re
import socket
import struct
import threading

import pytest

from framework.messages import CBlock, CBlockHeader, CTransaction, Reader, TX_TRANSFER, Writer
from framework.p2p import (BAD_CHECKSUM, BAD_COMMAND, BAD_MAGIC, HEADER_SIZE, MAGIC, MALFORMED, MAX_ADDR,
                           MAX_HEADERS, MAX_INV, MAX_LOCATOR, MAX_META_TX_SIZE, MAX_PAYLOAD_SIZE, MAX_VERSION_PAYLOAD,
                           MSG_BLOCK, MSG_META_TX, MSG_TX, NODE_NETWORK, OVERSIZED, P2PConnection, ProtocolError,
                           NetAddress, checksum, decode, decode_frame, decode_message, encode, frame, msg_addr,
                           msg_block, msg_getaddr, msg_getdata, msg_getheaders, msg_headers, msg_inv, msg_metatx,
                           msg_notfound, msg_ping, msg_pong, msg_tx, msg_verack, msg_version, parse_header)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAIN, TESTNET, REGTEST = MAGIC["main"], MAGIC["testnet"], MAGIC["regtest"]


def sample_header():
    return CBlockHeader(version=1, prev=b"\x01" * 32, height=7, time=1700000000, merkle_root=b"\x02" * 32,
                        payload_hash=bytes(32), bits=0x207FFFFF, nonce=42)


def sample_tx():
    return CTransaction(type=TX_TRANSFER, from_=b"\x02" + b"\x03" * 32, to="dfrt1example", amount=100_000_000,
                        fee=10_000, nonce=5, signature=b"\x05" * 64)


def sample_version():
    return msg_version(services=NODE_NETWORK, timestamp=1700000000,
                       addr_recv=NetAddress("127.0.0.1", 8555, NODE_NETWORK),
                       addr_from=NetAddress("2001:db8::1", 8555, NODE_NETWORK), nonce=0x1122334455667788,
                       user_agent="/defid:0.1.0/", start_height=1234, relay=True)


# The same vectors as src/test/protocol_tests.cpp's Goldens() and docs/p2p.md's examples.
GOLDEN = [
    ("verack", REGTEST, lambda: msg_verack(), "fabfb5da76657261636b000000000000000000005df6e0e2"),
    ("ping", REGTEST, lambda: msg_ping(0x0123456789ABCDEF),
     "fabfb5da70696e6700000000000000000800000033bc15e5efcdab8967452301"),
    ("version", MAIN, sample_version,
     "d1ef4d4376657273696f6e0000000000660000008294e84b71110100010000000000000000f1536500000000010000000000"
     "000000000000000000000000ffff7f000001216b010000000000000020010db8000000000000000000000001216b88776655"
     "443322110d0000002f64656669643a302e312e302fd204000001"),
    ("addr", TESTNET, lambda: msg_addr([(1700000000, NetAddress("1.2.3.4", 8555, NODE_NETWORK))]),
     "0b1109076164647200000000000000002200000044d3abdb0100000000f15365010000000000000000000000000000000000"
     "ffff01020304216b"),
    ("inv", REGTEST, lambda: msg_inv([(MSG_TX, b"\x11" * 32), (MSG_BLOCK, b"\x22" * 32)]),
     "fabfb5da696e760000000000000000004c0000005f7c334b0200000001000000111111111111111111111111111111111111"
     "1111111111111111111111111111020000002222222222222222222222222222222222222222222222222222222222222222"),
    ("getheaders", MAIN, lambda: msg_getheaders([b"\xaa" * 32, b"\xbb" * 32]),
     "d1ef4d436765746865616465727300006800000047210b847111010002000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00000000"
     "00000000000000000000000000000000000000000000000000000000"),
    ("headers", REGTEST, lambda: msg_headers([sample_header()]),
     "fabfb5da68656164657273000000000080000000f154cd7e0100000001000000010101010101010101010101010101010101"
     "01010101010101010101010101010700000000f1536500000000020202020202020202020202020202020202020202020202"
     "02020202020202020000000000000000000000000000000000000000000000000000000000000000ffff7f202a0000000000"
     "0000"),
    ("tx", REGTEST, lambda: msg_tx(sample_tx()),
     "fabfb5da7478000000000000000000009e0000005d01a06c0102030303030303030303030303030303030303030303030303"
     "03030303030303030c00000064667274316578616d706c6500e1f50500000000102700000000000005000000000000000000"
     "0000000000000000000000000000400000000505050505050505050505050505050505050505050505050505050505050505"
     "0505050505050505050505050505050505050505050505050505050505050505"),
]


def expect(violation, text, f, *args):
    with pytest.raises(ProtocolError) as e:
        f(*args)
    assert e.value.violation == violation, e.value
    assert text in str(e.value), e.value


def malformed(command, payload, text):
    """Malformed, naming the command and the cause."""
    expect(MALFORMED, text, decode_message, command, payload)
    expect(MALFORMED, f"malformed: {command}: ", decode_message, command, payload)


def count(n):
    return struct.pack("<I", n)


@pytest.mark.parametrize("name,magic,make,hexstr", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_vectors(name, magic, make, hexstr):
    msg = make()
    assert msg.command == name
    assert encode(magic, msg).hex() == hexstr
    back = decode(bytes.fromhex(hexstr), magic)
    assert encode(magic, back).hex() == hexstr


def test_golden_vectors_decode_to_fields():
    v = decode(bytes.fromhex(GOLDEN[2][3]), MAIN)
    assert (v.version, v.services, v.timestamp, v.nonce) == (70001, 1, 1700000000, 0x1122334455667788)
    assert v.addr_recv == NetAddress("127.0.0.1", 8555, 1)
    assert v.addr_from == NetAddress("2001:db8::1", 8555, 1)
    assert (v.user_agent, v.start_height, v.relay) == ("/defid:0.1.0/", 1234, True)
    h = decode(bytes.fromhex(GOLDEN[6][3]), REGTEST).headers[0]
    assert h.hash == sample_header().hash and h.height == 7 and h.nonce == 42
    assert decode(bytes.fromhex(GOLDEN[7][3]), REGTEST).tx.txid == sample_tx().txid


def test_docs_show_the_golden_vectors():
    text = open(os.path.join(ROOT, "docs", "p2p.md")).read()
    blocks = {"".join(b.split()) for b in re.findall(r"```\n([0-9a-f\n]+)```", text)}
    for name, _, _, hexstr in GOLDEN:
        assert hexstr in blocks, f"docs/p2p.md lacks the {name} example"


def test_header_layout():
    data = frame(TESTNET, "getheaders", b"")
    assert data[:4] == TESTNET and data[4:16] == b"getheaders\0\0"
    assert checksum(b"").hex() == "5df6e0e2" and data[20:24] == checksum(b"")
    assert parse_header(frame(TESTNET, "abcdefghijkl", b"x"), TESTNET) == ("abcdefghijkl", 1, checksum(b"x"))


def test_bad_magic():
    expect(BAD_MAGIC, "bad magic fabfb5da, expected d1ef4d43", decode_frame, frame(REGTEST, "verack", b""), MAIN)


def test_bad_command_bytes():
    good = bytearray(frame(REGTEST, "verack", b""))

    def with_byte(pos, b):
        f = bytearray(good)
        f[4 + pos] = b
        return bytes(f)

    empty = bytes(good[:4]) + bytes(12) + bytes(good[16:])
    for bad in (empty, with_byte(8, ord("x")), with_byte(11, 1), with_byte(0, 0x20), with_byte(0, 0x7F),
                with_byte(0, 0xC3), with_byte(2, 0x0A)):
        expect(BAD_COMMAND, "bad command bytes", decode_frame, bad, REGTEST)
    for bad in ("", "abcdefghijklm", "ver ack"):
        expect(BAD_COMMAND, "bad command", frame, REGTEST, bad, b"")


def test_oversized_length():
    head = REGTEST + b"block".ljust(12, b"\0")
    assert parse_header(head + struct.pack("<I", MAX_PAYLOAD_SIZE) + bytes(4), REGTEST)[1] == 32 * 1024 * 1024 + 1024
    expect(OVERSIZED, "block: payload of 33555457 bytes, over the limit of 33555456", parse_header,
           head + struct.pack("<I", MAX_PAYLOAD_SIZE + 1) + bytes(4), REGTEST)
    expect(OVERSIZED, "over the limit", parse_header, head + b"\xff" * 4 + bytes(4), REGTEST)


def test_bad_checksum_and_truncation():
    f = bytearray(frame(REGTEST, "ping", struct.pack("<Q", 7)))
    f[20] ^= 1
    expect(BAD_CHECKSUM, "ping: checksum", decode_frame, bytes(f), REGTEST)
    f[20] ^= 1
    f[-1] ^= 1
    expect(BAD_CHECKSUM, "does not match", decode_frame, bytes(f), REGTEST)
    f[-1] ^= 1
    expect(MALFORMED, "truncated: 23 bytes, a header is 24", decode_frame, bytes(f[:23]), REGTEST)
    expect(MALFORMED, "ping: header announces 8 payload bytes, 7 follow", decode_frame, bytes(f[:-1]), REGTEST)
    expect(MALFORMED, "8 payload bytes, 9 follow", decode_frame, bytes(f) + b"\0", REGTEST)


def test_round_trip_every_message():
    addrs = [(i, NetAddress("10.0.0.1", i, 1)) for i in range(MAX_ADDR - 1)] + [(5, NetAddress("::1", 1, 0))]
    items = [(MSG_BLOCK if i % 2 else MSG_TX, bytes([i % 256]) * 32) for i in range(MAX_INV)]
    block = CBlock(sample_header(), [sample_tx(), sample_tx()], b"\x01\x02\x03")
    msgs = [sample_version(), msg_version(user_agent=" " * 256, relay=False), msg_verack(), msg_getaddr(),
            msg_ping(2**64 - 1), msg_pong(12345), msg_addr(addrs), msg_addr(), msg_inv(items), msg_getdata(items),
            msg_notfound(items[:1]), msg_getheaders([b"\x09" * 32] * MAX_LOCATOR, b"\x08" * 32), msg_getheaders(),
            msg_headers([sample_header()] * MAX_HEADERS), msg_headers(), msg_block(block), msg_tx(sample_tx())]
    for m in msgs:
        data = encode(REGTEST, m)
        back = decode(data, REGTEST)
        assert type(back) is type(m)
        assert encode(REGTEST, back) == data
    assert decode(encode(REGTEST, msg_addr(addrs)), REGTEST).addrs == addrs
    assert decode(encode(REGTEST, msg_inv(items)), REGTEST).items == items
    assert decode(encode(REGTEST, msg_block(block)), REGTEST).block.hash == block.hash


def test_unknown_command_is_ignored():
    assert decode_message("sendcmpct", b"\x01\x02") is None
    assert decode_message("Version", b"") is None
    assert decode_frame(frame(REGTEST, "futurething", b"\xff"), REGTEST) == ("futurething", b"\xff")


def test_too_many_items():
    malformed("addr", count(MAX_ADDR + 1), "1001 addresses, over the limit of 1000")
    malformed("inv", count(MAX_INV + 1), "50001 inventory entries, over the limit of 50000")
    malformed("getdata", count(MAX_INV + 1), "50001 inventory entries")
    malformed("notfound", count(2**32 - 1), "4294967295 inventory entries, over the limit")
    malformed("headers", count(MAX_HEADERS + 1), "2001 headers, over the limit of 2000")
    malformed("getheaders", struct.pack("<II", 70001, MAX_LOCATOR + 1), "102 locator hashes, over the limit of 101")
    with pytest.raises(ValueError):
        msg_inv([(MSG_TX, bytes(32))] * (MAX_INV + 1)).serialize()
    with pytest.raises(ValueError):
        msg_headers([sample_header()] * (MAX_HEADERS + 1)).serialize()


def test_count_beyond_payload():
    malformed("inv", count(MAX_INV), "truncated: 50000 inventory entries need 1800000 bytes, 0 remain")
    malformed("headers", count(2), "truncated: 2 headers need 248 bytes, 0 remain")
    malformed("addr", count(1), "truncated: 1 addresses need 30 bytes, 0 remain")


@pytest.mark.parametrize("name,magic,make,hexstr", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_truncated_and_trailing_payloads(name, magic, make, hexstr):
    command, payload = decode_frame(bytes.fromhex(hexstr), magic)
    for n in range(len(payload)):
        expect(MALFORMED, f"{command}: ", decode_message, command, payload[:n])
    if command == "version":
        assert decode_message(command, payload + b"\0")  # a later version's fields
    else:
        malformed(command, payload + b"\0", "verack carries no payload" if command == "verack" else "trailing")
    malformed("getaddr", b"\0", "getaddr carries no payload")


def test_version_limits():
    with pytest.raises(ValueError):
        msg_version(user_agent="a" * 257).serialize()
    payload = sample_version().serialize()
    agent_at = 4 + 8 + 8 + 26 + 26 + 8

    def with_agent(agent):
        return payload[:agent_at] + struct.pack("<I", len(agent)) + agent + struct.pack("<IB", 1, 1)

    malformed("version", with_agent(b"a" * 257), "length 257 over limit")
    malformed("version", with_agent(b"a\nb"), "user agent holds a byte that is not printable ASCII")
    malformed("version", with_agent("café".encode()), "not printable ASCII")
    assert decode_message("version", with_agent(b"")).user_agent == ""
    malformed("version", payload[:-1] + b"\x02", "relay is 2, not 0 or 1")
    big = payload.ljust(MAX_VERSION_PAYLOAD, b"\0")
    assert decode_message("version", big).start_height == 1234
    malformed("version", big + b"\0", "payload of 1025 bytes, over the limit of 1024")


def test_inv_types_and_tx_limits():
    malformed("inv", count(1) + struct.pack("<I", 3) + bytes(32), "inventory entry 0 has unknown type 3")
    tx = bytearray(sample_tx().serialize())
    tx[0] = 9
    malformed("tx", bytes(tx), "unknown tx type 9")
    malformed("block", bytes((32 << 20) + 1), "block of 33554433 bytes, over the limit of 33554432")
    bad_to = sample_tx()
    bad_to.to = "dfrt1 x"
    malformed("tx", bad_to.serialize(), "not printable ASCII")


# docs/p2p.md's metatx examples (also in src/test/protocol_tests.cpp): an EIP-1559 transfer
# signed by key 1 on regtest, and the inv announcing it by its keccak256 hash.
META_TX_RAW = bytes.fromhex(
    "02f87382046c80843b9aca00847735940082520894515151515151515151515151515151515151515187038d7ea4c6800080c001a07ae8"
    "5e3c42fcc58c104a583de1b6842d98d1fc3baa5ff7c3d63e75d4d8344986a03d9ac2afcd9d6dce5d03d55fb73ea0ceaa63f406c5bc7774"
    "a78d7e80111e07eb")
META_TX_HASH = bytes.fromhex("aa5e005e60f37aece490d68f8dee3c23aa4571a89f9ccc74850c765efe97f52e")
META_GOLDEN = [
    (msg_metatx(META_TX_RAW), "fabfb5da6d6574617478000000000000760000005dcdf160" + META_TX_RAW.hex()),
    (msg_inv([(MSG_META_TX, META_TX_HASH)]),
     "fabfb5da696e760000000000000000002800000069a7d25b0100000010000000" + META_TX_HASH.hex()),
]


def test_metatx_golden_vectors_and_limits():
    from eth_account import Account
    from eth_utils import keccak
    tx = {"type": 2, "chainId": 1132, "nonce": 0, "to": "0x" + "51" * 20, "value": 10**15, "gas": 21000,
          "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}
    assert bytes(Account.from_key((1).to_bytes(32, "big")).sign_transaction(tx).raw_transaction) == META_TX_RAW
    assert keccak(META_TX_RAW) == META_TX_HASH
    text = open(os.path.join(ROOT, "docs", "p2p.md")).read()
    blocks = {"".join(b.split()) for b in re.findall(r"```\n([0-9a-f\n]+)```", text)}
    for msg, hexstr in META_GOLDEN:
        assert encode(REGTEST, msg).hex() == hexstr
        assert encode(REGTEST, decode(bytes.fromhex(hexstr), REGTEST)).hex() == hexstr
        assert hexstr in blocks, f"docs/p2p.md lacks the {msg.command} example"
    assert decode(bytes.fromhex(META_GOLDEN[0][1]), REGTEST).raw == META_TX_RAW
    assert decode(bytes.fromhex(META_GOLDEN[1][1]), REGTEST).items == [(MSG_META_TX, META_TX_HASH)]
    assert decode_message("metatx", b"\x02").raw == b"\x02"
    assert len(decode_message("metatx", bytes(MAX_META_TX_SIZE)).raw) == 131072
    malformed("metatx", b"", "metachain tx of 0 bytes")
    malformed("metatx", bytes(MAX_META_TX_SIZE + 1), "metachain tx of 131073 bytes")
    for t in (0, 3, 0x0F, 0x11, 2**32 - 1):
        malformed("getdata", count(2) + struct.pack("<I", MSG_META_TX) + bytes(32) + struct.pack("<I", t) + bytes(32),
                  f"inventory entry 1 has unknown type {t}")


def test_net_address():
    a = NetAddress("192.168.1.20", 0x1234, NODE_NETWORK)
    w = Writer()
    a.write(w)
    assert bytes(w.out).hex() == "0100000000000000" "00000000000000000000ffffc0a80114" "1234"
    assert NetAddress.read(Reader(bytes(w.out))) == a
    assert NetAddress().ip_bytes() == bytes(16)


class ScriptedPeer:
    """The other end of a P2PConnection, run by the test: listens on loopback
    and reads and writes framed messages with the codec."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn = None
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.conn, _ = self.server.accept()
        self.conn.settimeout(10)
        self.accepted.set()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            assert chunk, "peer closed"
            buf += chunk
        return buf

    def recv(self):
        head = self.recv_exact(HEADER_SIZE)
        _, length, _ = parse_header(head, REGTEST)
        return decode(head + self.recv_exact(length), REGTEST)

    def send(self, msg):
        self.conn.sendall(encode(REGTEST, msg))

    def close(self):
        if self.conn:
            self.conn.close()
        self.server.close()


@pytest.fixture
def scripted():
    peer = ScriptedPeer()
    yield peer
    peer.close()


def handshake(scripted, conn):
    """Runs the accepting side of the handshake while conn.connect() runs."""
    result = {}

    def connect():
        try:
            result["conn"] = conn.connect(timeout=10)
        except Exception as e:  # reported by the caller
            result["error"] = e

    t = threading.Thread(target=connect)
    t.start()
    assert scripted.accepted.wait(10)
    version = scripted.recv()
    assert isinstance(version, msg_version) and version.nonce == conn.nonce
    assert version.addr_recv == NetAddress("127.0.0.1", scripted.port, NODE_NETWORK)
    scripted.send(msg_version(nonce=1, start_height=5, user_agent="/scripted/"))
    scripted.send(msg_verack())
    assert isinstance(scripted.recv(), msg_verack)
    t.join(10)
    assert "error" not in result, result.get("error")
    return version


def test_p2p_connection_handshake_ping_and_wait(scripted):
    with P2PConnection("127.0.0.1", scripted.port, REGTEST) as conn:
        handshake(scripted, conn)
        assert conn.messages["version"][0].start_height == 5
        scripted.send(msg_ping(77))
        assert scripted.recv().nonce == 77  # answered with a pong
        scripted.send(msg_headers([sample_header()]))
        scripted.send(msg_headers())
        assert conn.wait_for("headers").headers[0].hash == sample_header().hash
        assert conn.wait_for("headers").headers == []
        with pytest.raises(TimeoutError):
            conn.wait_for("headers", timeout=0.2)
        conn.send_message(msg_getheaders([b"\x01" * 32]))
        assert scripted.recv().locator == [b"\x01" * 32]
        conn.send_raw(frame(REGTEST, "futurething", b"abc"))
        head = scripted.recv_exact(HEADER_SIZE)
        assert parse_header(head, REGTEST)[0] == "futurething" and scripted.recv_exact(3) == b"abc"
        scripted.conn.sendall(frame(REGTEST, "futurething", b"xyz"))  # kept raw, not an error
        assert conn.wait_for("futurething") == b"xyz"
        scripted.send(msg_pong(1))
        conn.wait_for("pong", predicate=lambda m: m.nonce == 1)


def test_p2p_connection_refuses_a_bad_message(scripted):
    with P2PConnection("127.0.0.1", scripted.port, REGTEST) as conn:
        handshake(scripted, conn)
        bad = bytearray(encode(REGTEST, msg_ping(3)))
        bad[-1] ^= 0xFF
        scripted.conn.sendall(bytes(bad))
        conn.wait_for_disconnect()
        assert conn.error.violation == BAD_CHECKSUM
        with pytest.raises(ProtocolError):
            conn.wait_for("ping", timeout=1)


def test_p2p_connection_sees_disconnect(scripted):
    with P2PConnection("127.0.0.1", scripted.port, REGTEST) as conn:
        conn.connect(handshake=False)
        assert scripted.accepted.wait(10)
        scripted.conn.close()
        conn.wait_for_disconnect()
        assert conn.error is None
        with pytest.raises(ConnectionError):
            conn.wait_for("version", timeout=1)
