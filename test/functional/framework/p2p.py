"""A P2P test peer written from docs/p2p.md (not from src/protocol.cpp), so
the two implementations check each other.

    peer = P2PConnection("127.0.0.1", node.p2pport, MAGIC["regtest"]).connect()
    peer.send_message(msg_getheaders(locator=[tip]))
    headers = peer.wait_for("headers")
    peer.send_raw(b"junk")                # anything, bytes as they are
    peer.wait_for_disconnect()

Messages are classes named after their command (`msg_ping(nonce=1)`), each
with `serialize()` (the payload) and `deserialize(payload)`, which enforces
every limit of docs/p2p.md and raises ProtocolError. Txs, headers and blocks
are framework/messages.py's CTransaction, CBlockHeader and CBlock."""
import hashlib
import ipaddress
import os
import socket
import struct
import threading
import time

from .messages import CBlock, CBlockHeader, CTransaction, Reader, SerializeError, Writer

MAGIC = {
    "main": bytes.fromhex("d1ef4d43"),
    "testnet": bytes.fromhex("0b110907"),
    "regtest": bytes.fromhex("fabfb5da"),
}
HEADER_SIZE = 24
COMMAND_SIZE = 12
MAX_BLOCK_SIZE = 32 << 20
MAX_PAYLOAD_SIZE = MAX_BLOCK_SIZE + 1024
PROTOCOL_VERSION = 70001
NODE_NETWORK = 1
MAX_USER_AGENT = 256
MAX_VERSION_PAYLOAD = 1024
MAX_ADDR = 1000
MAX_INV = 50_000
MAX_LOCATOR = 101
MAX_HEADERS = 2000
HEADER_BYTES = 124
MSG_TX, MSG_BLOCK, MSG_META_TX = 1, 2, 0x10
MAX_META_TX_SIZE = 128 * 1024
USER_AGENT = "/defi-test-peer:0.1/"

# Kinds of violation, as the table in docs/p2p.md names them.
BAD_MAGIC, BAD_COMMAND, OVERSIZED, BAD_CHECKSUM, MALFORMED = (
    "bad magic", "bad command", "oversized", "bad checksum", "malformed")


class ProtocolError(SerializeError):
    def __init__(self, violation, message):
        super().__init__(f"{violation}: {message}")
        self.violation = violation


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def checksum(payload):
    return sha256d(payload)[:4]


def _read_count(r, what, limit, item_size):
    """A count checked against its limit and the bytes left before any item is read."""
    n = r.int("I")
    if n > limit:
        raise SerializeError(f"{n} {what}, over the limit of {limit}")
    if n * item_size > len(r.data) - r.pos:
        raise SerializeError(f"truncated: {n} {what} need {n * item_size} bytes, {len(r.data) - r.pos} remain")
    return n


def _write_count(w, n, what, limit):
    if n > limit:
        raise SerializeError(f"{n} {what}, over the limit of {limit}")
    w.int("I", n)


class NetAddress:
    """services, an IP (IPv4 kept IPv4-mapped on the wire) and a big-endian port."""
    SIZE = 26

    def __init__(self, ip="::", port=0, services=0):
        self.ip, self.port, self.services = str(ipaddress.ip_address(ip)), port, services

    def ip_bytes(self):
        a = ipaddress.ip_address(self.ip)
        return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed

    def write(self, w):
        w.int("Q", self.services).fixed(self.ip_bytes(), 16)
        w.out += struct.pack(">H", self.port)

    @classmethod
    def read(cls, r):
        services = r.int("Q")
        raw = r.fixed(16)
        (port,) = struct.unpack(">H", r.fixed(2))
        a = ipaddress.IPv6Address(raw)
        ip = a.ipv4_mapped if a.ipv4_mapped is not None else a
        return cls(str(ip), port, services)

    def __eq__(self, other):
        return (self.ip, self.port, self.services) == (other.ip, other.port, other.services)

    def __repr__(self):
        host = self.ip if ":" not in self.ip else f"[{self.ip}]"
        return f"NetAddress({host}:{self.port}, services={self.services})"


class Message:
    command = ""

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, payload):
        if payload:
            raise SerializeError(f"{cls.command} carries no payload")
        return cls()

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"msg_{self.command}({fields})"


class msg_version(Message):
    command = "version"

    def __init__(self, version=PROTOCOL_VERSION, services=NODE_NETWORK, timestamp=None, addr_recv=None,
                 addr_from=None, nonce=0, user_agent=USER_AGENT, start_height=0, relay=True):
        self.version, self.services = version, services
        self.timestamp = int(time.time()) if timestamp is None else timestamp
        self.addr_recv = addr_recv or NetAddress()
        self.addr_from = addr_from or NetAddress()
        self.nonce, self.user_agent = nonce, user_agent
        self.start_height, self.relay = start_height, relay

    def serialize(self):
        agent = self.user_agent.encode() if isinstance(self.user_agent, str) else self.user_agent
        if len(agent) > MAX_USER_AGENT:
            raise SerializeError("user agent over 256 bytes")
        w = Writer().int("I", self.version).int("Q", self.services).int("q", self.timestamp)
        self.addr_recv.write(w)
        self.addr_from.write(w)
        w.int("Q", self.nonce).bytes(agent).int("I", self.start_height).int("B", 1 if self.relay else 0)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, payload):
        if len(payload) > MAX_VERSION_PAYLOAD:
            raise SerializeError(f"payload of {len(payload)} bytes, over the limit of {MAX_VERSION_PAYLOAD}")
        r = Reader(payload)
        m = cls(version=r.int("I"), services=r.int("Q"), timestamp=r.int("q"))
        m.addr_recv, m.addr_from = NetAddress.read(r), NetAddress.read(r)
        m.nonce = r.int("Q")
        agent = r.bytes(MAX_USER_AGENT)
        if any(b < 0x20 or b > 0x7E for b in agent):
            raise SerializeError("user agent holds a byte that is not printable ASCII")
        m.user_agent = agent.decode("ascii")
        m.start_height = r.int("I")
        relay = r.int("B")
        if relay > 1:
            raise SerializeError(f"relay is {relay}, not 0 or 1")
        m.relay = relay == 1
        return m  # bytes after relay: later versions' fields, ignored


class msg_verack(Message):
    command = "verack"


class msg_getaddr(Message):
    command = "getaddr"


class _NonceMessage(Message):
    def __init__(self, nonce=0):
        self.nonce = nonce

    def serialize(self):
        return struct.pack("<Q", self.nonce)

    @classmethod
    def deserialize(cls, payload):
        r = Reader(payload)
        m = cls(r.int("Q"))
        r.expect_end()
        return m


class msg_ping(_NonceMessage):
    command = "ping"


class msg_pong(_NonceMessage):
    command = "pong"


class msg_addr(Message):
    """addrs: a list of (time, NetAddress)."""
    command = "addr"

    def __init__(self, addrs=()):
        self.addrs = list(addrs)

    def serialize(self):
        w = Writer()
        _write_count(w, len(self.addrs), "addresses", MAX_ADDR)
        for t, a in self.addrs:
            w.int("I", t)
            a.write(w)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, payload):
        r = Reader(payload)
        n = _read_count(r, "addresses", MAX_ADDR, 4 + NetAddress.SIZE)
        m = cls([(r.int("I"), NetAddress.read(r)) for _ in range(n)])
        r.expect_end()
        return m


class _InvMessage(Message):
    """items: a list of (type, 32-byte hash); type MSG_TX, MSG_BLOCK or MSG_META_TX."""

    def __init__(self, items=()):
        self.items = [(t, bytes(h)) for t, h in items]

    def serialize(self):
        w = Writer()
        _write_count(w, len(self.items), "inventory entries", MAX_INV)
        for t, h in self.items:
            w.int("I", t).fixed(h, 32)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, payload):
        r = Reader(payload)
        n = _read_count(r, "inventory entries", MAX_INV, 36)
        items = []
        for i in range(n):
            t = r.int("I")
            if t not in (MSG_TX, MSG_BLOCK, MSG_META_TX):
                raise SerializeError(f"inventory entry {i} has unknown type {t}")
            items.append((t, r.fixed(32)))
        r.expect_end()
        return cls(items)


class msg_inv(_InvMessage):
    command = "inv"


class msg_getdata(_InvMessage):
    command = "getdata"


class msg_notfound(_InvMessage):
    command = "notfound"


class msg_getheaders(Message):
    command = "getheaders"

    def __init__(self, locator=(), stop=bytes(32), version=PROTOCOL_VERSION):
        self.version, self.locator, self.stop = version, [bytes(h) for h in locator], bytes(stop)

    def serialize(self):
        w = Writer().int("I", self.version)
        _write_count(w, len(self.locator), "locator hashes", MAX_LOCATOR)
        for h in self.locator:
            w.fixed(h, 32)
        w.fixed(self.stop, 32)
        return bytes(w.out)

    @classmethod
    def deserialize(cls, payload):
        r = Reader(payload)
        version = r.int("I")
        n = _read_count(r, "locator hashes", MAX_LOCATOR, 32)
        locator = [r.fixed(32) for _ in range(n)]
        m = cls(locator, r.fixed(32), version)
        r.expect_end()
        return m


class msg_headers(Message):
    """headers: CBlockHeader objects, 124 bytes each on the wire, no prefix."""
    command = "headers"

    def __init__(self, headers=()):
        self.headers = list(headers)

    def serialize(self):
        w = Writer()
        _write_count(w, len(self.headers), "headers", MAX_HEADERS)
        for h in self.headers:
            w.out += h.serialize()
        return bytes(w.out)

    @classmethod
    def deserialize(cls, payload):
        r = Reader(payload)
        n = _read_count(r, "headers", MAX_HEADERS, HEADER_BYTES)
        m = cls([CBlockHeader.deserialize(r.fixed(HEADER_BYTES)) for _ in range(n)])
        r.expect_end()
        return m


class msg_block(Message):
    command = "block"

    def __init__(self, block=None):
        self.block = block or CBlock()

    def serialize(self):
        return self.block.serialize()

    @classmethod
    def deserialize(cls, payload):
        if len(payload) > MAX_BLOCK_SIZE:
            raise SerializeError(f"block of {len(payload)} bytes, over the limit of {MAX_BLOCK_SIZE}")
        return cls(CBlock.deserialize(payload))


class msg_tx(Message):
    command = "tx"

    def __init__(self, tx=None):
        self.tx = tx or CTransaction()

    def serialize(self):
        return self.tx.serialize()

    @classmethod
    def deserialize(cls, payload):
        return cls(CTransaction.deserialize(payload))


class msg_metatx(Message):
    """A metachain tx: its raw EIP-2718 bytes are the whole payload."""
    command = "metatx"

    def __init__(self, raw=b""):
        self.raw = bytes(raw)

    def serialize(self):
        return self.raw

    @classmethod
    def deserialize(cls, payload):
        if not payload or len(payload) > MAX_META_TX_SIZE:
            raise SerializeError(f"metachain tx of {len(payload)} bytes")
        return cls(payload)


MESSAGES = {cls.command: cls for cls in (msg_version, msg_verack, msg_ping, msg_pong, msg_getaddr, msg_addr, msg_inv,
                                         msg_getdata, msg_notfound, msg_getheaders, msg_headers, msg_block, msg_tx,
                                         msg_metatx)}


def _command_ok(command):
    return 1 <= len(command) <= COMMAND_SIZE and all(0x21 <= b <= 0x7E for b in command)


def frame(magic, command, payload):
    """Header + payload. `command` as str or bytes; refuses what a receiver must refuse."""
    command = command.encode() if isinstance(command, str) else bytes(command)
    if not _command_ok(command):
        raise ProtocolError(BAD_COMMAND, f"bad command {command!r}")
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise ProtocolError(OVERSIZED, f"payload of {len(payload)} bytes")
    return (bytes(magic) + command.ljust(COMMAND_SIZE, b"\0") + struct.pack("<I", len(payload)) +
            checksum(payload) + bytes(payload))


def encode(magic, msg):
    return frame(magic, msg.command, msg.serialize())


def parse_header(data, magic):
    """(command, length, checksum) of 24 header bytes; raises ProtocolError."""
    if data[:4] != bytes(magic):
        raise ProtocolError(BAD_MAGIC, f"bad magic {data[:4].hex()}, expected {bytes(magic).hex()}")
    raw = data[4:16]
    command = raw.split(b"\0", 1)[0]
    if not _command_ok(command) or any(raw[len(command):]):
        raise ProtocolError(BAD_COMMAND, f"bad command bytes {raw!r}")
    (length,) = struct.unpack_from("<I", data, 16)
    if length > MAX_PAYLOAD_SIZE:
        raise ProtocolError(OVERSIZED, f"{command.decode()}: payload of {length} bytes, over the limit of "
                                       f"{MAX_PAYLOAD_SIZE}")
    return command.decode(), length, data[20:24]


def decode_frame(data, magic):
    """(command, payload) of exactly one framed message."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError(MALFORMED, f"truncated: {len(data)} bytes, a header is {HEADER_SIZE}")
    command, length, check = parse_header(data, magic)
    payload = bytes(data[HEADER_SIZE:])
    if len(payload) != length:
        raise ProtocolError(MALFORMED, f"{command}: header announces {length} payload bytes, {len(payload)} follow")
    if checksum(payload) != check:
        raise ProtocolError(BAD_CHECKSUM, f"{command}: checksum {check.hex()} does not match the payload")
    return command, payload


def decode_message(command, payload):
    """The message object, or None for an unknown command (ignored, per docs/p2p.md)."""
    cls = MESSAGES.get(command)
    if cls is None:
        return None
    try:
        return cls.deserialize(payload)
    except ProtocolError:
        raise
    except (SerializeError, struct.error, ValueError) as e:
        raise ProtocolError(MALFORMED, f"{command}: {e}") from e


def decode(data, magic):
    return decode_message(*decode_frame(data, magic))


class P2PConnection:
    """One outbound connection to a node, read on a background thread.

    Every message received is kept in `messages[command]` (unknown commands
    as their raw payload), in order. `wait_for(command)` returns the next
    message of that command not yet returned by an earlier wait_for. Pings
    are answered with pongs (unless `answer_pings` is False); a version is
    answered with a verack. A message
    from the node that breaks docs/p2p.md is a node bug: it is kept in
    `error`, the connection closes, and waits raise it."""

    def __init__(self, host, port, magic=MAGIC["regtest"], start_height=0, relay=True, user_agent=USER_AGENT,
                 source=None, answer_pings=True):
        self.host, self.port, self.magic = host, port, bytes(magic)
        self.source = source  # a local address to connect from (any of 127.0.0.0/8 on loopback)
        self.answer_pings = answer_pings  # False: the node measures no ping time for this peer
        self.start_height, self.relay, self.user_agent = start_height, relay, user_agent
        self.nonce = int.from_bytes(os.urandom(8), "little")
        self.sock = None
        self.messages = {}
        self._returned = {}
        self.error = None
        self.closed = False
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread = None

    def connect(self, handshake=True, timeout=10):
        """Opens the socket; with `handshake`, sends version and waits for the
        node's version and verack."""
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout,
                                             source_address=(self.source, 0) if self.source else None)
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._read_loop, name=f"p2p-{self.port}", daemon=True)
        self._thread.start()
        if handshake:
            self.send_message(self.version_message())
            self.wait_for("version", timeout)
            self.wait_for("verack", timeout)
        return self

    def version_message(self):
        return msg_version(addr_recv=NetAddress(self.host, self.port, NODE_NETWORK), nonce=self.nonce,
                           user_agent=self.user_agent, start_height=self.start_height, relay=self.relay)

    def send_raw(self, data):
        with self._send_lock:
            self.sock.sendall(bytes(data))

    def send_message(self, msg):
        self.send_raw(encode(self.magic, msg))

    def wait_for(self, command, timeout=10, predicate=None):
        """The next received `command` message (and matching `predicate`) not
        returned before; raises TimeoutError, or ConnectionError once closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = self.messages.get(command, [])
                start = self._returned.get(command, 0)
                for i in range(start, len(got)):
                    if predicate is None or predicate(got[i]):
                        self._returned[command] = i + 1
                        return got[i]
                if self.error:
                    raise self.error
                if self.closed:
                    raise ConnectionError(f"connection closed while waiting for {command}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {command} within {timeout}s; received {sorted(self.messages)}")
                self._cond.wait(left)

    def wait_for_disconnect(self, timeout=10):
        """Waits until the node closes the connection."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.closed, timeout):
                raise TimeoutError(f"still connected after {timeout}s")

    def sync_with_ping(self, timeout=10):
        """Sends a ping and waits for its pong: every earlier message has been processed."""
        nonce = int.from_bytes(os.urandom(8), "little")
        self.send_message(msg_ping(nonce))
        self.wait_for("pong", timeout, lambda m: m.nonce == nonce)

    def close(self):
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _read_loop(self):
        try:
            while True:
                head = self._recv_exact(HEADER_SIZE)
                if head is None:
                    break
                command, length, check = parse_header(head, self.magic)
                payload = self._recv_exact(length)
                if payload is None:
                    break
                if checksum(payload) != check:
                    raise ProtocolError(BAD_CHECKSUM, f"{command}: checksum {check.hex()} does not match")
                msg = decode_message(command, payload)
                self._on_message(command, payload if msg is None else msg)
        except ProtocolError as e:
            with self._cond:
                self.error = e
        except OSError:
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()
            try:
                self.sock.close()
            except OSError:
                pass

    def _on_message(self, command, msg):
        if command == "ping" and self.answer_pings:
            self.send_message(msg_pong(msg.nonce))
        elif command == "version":
            self.send_message(msg_verack())
        with self._cond:
            self.messages.setdefault(command, []).append(msg)
            self._cond.notify_all()
