#!/usr/bin/env python3
"""Regenerates the committed seed corpora in test/fuzz/corpus/ from real runs.

    test/fuzz/make_corpus.py <defid> <jsonrpc_request fuzzer> [<p2p_message fuzzer>]
    test/fuzz/make_corpus.py --p2p <p2p_message fuzzer>

Starts <defid> -regtest twice (alone, and with -meta for deposits,
withdrawals and blocks with a metachain payload), drives it over JSON-RPC,
and saves what it returns: the bytes of every tx (getrawtransaction) and
block (getblock <hash> 0). The JSON-RPC bodies name the hashes, txids and
addresses of the fuzzer's own template node (DEFI_FUZZ_PRINT_STATE=1), one or
more bodies for every method its `help` lists. The p2p_message seeds are framed
messages of every command built from the docs' examples, the saved blocks and
txs (and the EVM txs in the blocks' metachain payloads, as `metatx`), and the
hashes of that fuzzer's template node; --p2p writes only those,
from the committed corpora, without a defid. Files are named by content hash,
so a rerun only adds.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")


def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, defid, meta):
        self.dir = tempfile.mkdtemp(prefix="defi-corpus-")
        self.port = free_port()
        args = [defid, "-regtest", "-datadir=" + self.dir, "-rpcport=%d" % self.port, "-printtoconsole=0"]
        if meta:
            args.append("-meta")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cookie = os.path.join(self.dir, "regtest", ".cookie")
        for _ in range(300):
            if os.path.exists(cookie):
                try:
                    self.auth = "Basic " + base64.b64encode(open(cookie, "rb").read()).decode()
                    self.call("uptime")
                    return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("defid did not start")

    def call(self, method, *params):
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.port, body,
                                     {"Authorization": self.auth, "Content-Type": "application/json"})
        try:
            reply = json.load(urllib.request.urlopen(req, timeout=60))
        except urllib.error.HTTPError as e:
            reply = json.load(e)
        if reply.get("error"):
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    def stop(self):
        try:
            self.call("stop")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def harvest(node, txids):
    """Saves every block of the chain and the given txs."""
    for h in range(node.call("getblockcount") + 1):
        block_hex = node.call("getblock", node.call("getblockhash", h), 0)
        save("block_deserialize", bytes.fromhex(block_hex))
        for txid in node.call("getblock", node.call("getblockhash", h), 1)["tx"]:
            txids.add(txid if isinstance(txid, str) else txid["txid"])
    for txid in sorted(txids):
        try:
            save("tx_deserialize", bytes.fromhex(node.call("getrawtransaction", txid)))
        except RuntimeError:
            pass  # the genesis coinbase is not indexed


def native_chain(defid):
    node = Node(defid, meta=False)
    try:
        a, b = node.call("getnewaddress"), node.call("getnewaddress")
        node.call("generatetoaddress", 3, a)
        txids = {node.call("sendtoaddress", b, "1.5"), node.call("sendtoaddress", b, 0.00000001)}
        node.call("generatetoaddress", 1, a)
        txids.add(node.call("sendtoaddress", a, "25.6789"))  # stays in the mempool
        harvest(node, txids)
    finally:
        node.stop()


def meta_chain(defid):
    node = Node(defid, meta=True)
    try:
        a, b = node.call("getnewaddress"), node.call("getnewaddress")
        m = node.call("getnewmetaaddress")
        node.call("generatetoaddress", 2, a)
        txids = {node.call("deposittometachain", a, m, "10")}
        node.call("generatetoaddress", 1, a)
        txids.add(node.call("withdrawfrommetachain", m, b, "4"))
        # An EVM tx in the next payload: a signed EIP-1559 transfer.
        node.call("metatransfer", m, node.call("getnewmetaaddress"), "1")
        node.call("generatetoaddress", 1, a)
        harvest(node, txids)
    finally:
        node.stop()


def template_state(fuzzer):
    out = subprocess.run([fuzzer, "-runs=0"], env=dict(os.environ, DEFI_FUZZ_PRINT_STATE="1"),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def amount_seeds():
    for s in ["0", "1", "0.1", "1.5", "21000000", "1200000000", "1200000000.00000001", "0.00000001",
              "0.000000001", "1e-8", "1.5E+3", "12345.6789", "10.00000000", "-1", "+1", "1.", ".5", "1e400",
              "18446744073709551616", "\"2.5\"", "[1]", "null", "1,5", " 7 ", "0x10", "NaN"]:
        save("amount_parse", s)


def jsonrpc_seeds(methods, state):
    addr, addr2 = state["addresses"]
    blocks, mempool, blocktxs = state["blocks"], state["mempool"], state["blocktxs"]
    meta_addr = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    meta_lower = meta_addr.lower()
    zero_hash = "00" * 32
    params = {
        "getblockcount": [[]],
        "getbestblockhash": [[]],
        "getblockhash": [[0], [3], [999]],
        "getblock": [[blocks[-1]], [blocks[1], 0], [blocks[2], 2], [zero_hash]],
        "getblockchaininfo": [[]],
        "getaddressbalance": [[addr], [addr2], ["dfrt1invalid"]],
        "invalidateblock": [[blocks[-1]], [blocks[0]]],
        "reconsiderblock": [[blocks[-1]]],
        "generatetoaddress": [[1, addr], [0, addr2], [-1, addr]],
        "submitblock": [["00"], ["zz"]],
        "getrawmempool": [[]],
        "sendrawtransaction": [["00"]],
        "decoderawtransaction": [["00"]],
        "getrawtransaction": [[mempool[0]], [blocktxs[-1], True], [zero_hash, False]],
        "getnewaddress": [[]],
        "getbalance": [[]],
        "sendtoaddress": [[addr2, "1.5"], [addr, 0.1], [addr2, "1e-8"], [addr2, 2000000000]],
        "gettransaction": [[mempool[0]], [blocktxs[0]]],
        "getmetachaininfo": [[]],
        "getnewmetaaddress": [[]],
        "getmetabalance": [[meta_addr], [meta_lower], ["0x7e5F4552091A69125d5DfCb7b8C2659029395Bdf"]],
        "getmetablock": [["0"], [zero_hash], ["0x" + zero_hash]],
        "getmetareceipt": [["0x" + zero_hash], [zero_hash], ["0x12"]],
        "getmetastorageat": [[meta_addr, "0x0"], [meta_lower, "0x" + zero_hash], [meta_addr, "zz"]],
        "getmetacode": [[meta_addr]],
        "sendrawmetatransaction": [["0x02"], ["00"], ["0xzz"]],
        "deposittometachain": [[addr, meta_addr, "1"], [addr, meta_lower, "0.5"]],
        "withdrawfrommetachain": [[meta_addr, addr, "1"], [meta_addr, addr, "1", "00" * 65], [meta_addr, addr, "1", "00"]],
        "metatransfer": [[meta_addr, meta_lower, "1"]],
        "help": [[], ["getblock"], ["nosuchcommand"]],
        "stop": [[]],
        "getpeerinfo": [[]],
        "addnode": [["127.0.0.1:19555", "add"], ["[::1]:1", "onetry"], ["host", "remove"]],
        "disconnectnode": [["127.0.0.1:19555"], ["", 3]],
        "setban": [["10.0.0.0/8", "add", 3600], ["1.2.3.4", "remove"], ["::1", "add", 2000000000, True]],
        "setnetworkactive": [[False], [True]],
        "uptime": [[]],
    }
    for m in methods:
        for p in params.get(m, [[]]):
            save("jsonrpc_request", json.dumps({"jsonrpc": "1.0", "id": "seed", "method": m, "params": p}))
        save("jsonrpc_request", json.dumps({"jsonrpc": "2.0", "id": 7, "method": m, "params": params.get(m, [[]])[0]}))
    # Envelopes: named params, batches, notifications, errors.
    for body in [
        {"jsonrpc": "2.0", "id": 1, "method": "getblock", "params": {"blockhash": blocks[-1], "verbosity": 2}},
        {"jsonrpc": "2.0", "method": "getblockcount"},
        [{"jsonrpc": "2.0", "id": 1, "method": "getblockcount"}, {"jsonrpc": "2.0", "id": 2, "method": "help"}],
        [{"jsonrpc": "2.0", "method": "uptime"}],
        [],
        [1, "x", None],
        {"id": None, "method": "nosuchmethod", "params": []},
        {"id": 1, "method": 5},
        {"id": [1, {"a": 2}], "method": "getblockcount", "params": None},
    ]:
        save("jsonrpc_request", json.dumps(body))
    for raw in ["", "{", "[[[[[[[[[[]]]]]]]]]]", "{\"method\":\"getblockhash\",\"params\":[1e400]}",
                "{\"method\":\"sendtoaddress\",\"params\":[\"%s\",1199999999.99999999]}" % addr2,
                "{\"method\":\"getblockhash\",\"params\":[18446744073709551616]}"]:
        save("jsonrpc_request", raw)


P2P_MAGIC = bytes.fromhex("fabfb5da")  # regtest (src/chainparams.cpp)
# The examples of docs/p2p.md (also in src/test/protocol_tests.cpp), as they are.
P2P_GOLDEN = [
    "fabfb5da76657261636b000000000000000000005df6e0e2",
    "fabfb5da70696e6700000000000000000800000033bc15e5efcdab8967452301",
    "d1ef4d4376657273696f6e0000000000660000008294e84b71110100010000000000000000f1536500000000010000000000"
    "000000000000000000000000ffff7f000001216b010000000000000020010db8000000000000000000000001216b88776655"
    "443322110d0000002f64656669643a302e312e302fd204000001",
    "0b1109076164647200000000000000002200000044d3abdb0100000000f15365010000000000000000000000000000000000"
    "ffff01020304216b",
    "fabfb5da696e760000000000000000004c0000005f7c334b0200000001000000111111111111111111111111111111111111"
    "1111111111111111111111111111020000002222222222222222222222222222222222222222222222222222222222222222",
    "d1ef4d436765746865616465727300006800000047210b847111010002000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00000000"
    "00000000000000000000000000000000000000000000000000000000",
    "fabfb5da68656164657273000000000080000000f154cd7e0100000001000000010101010101010101010101010101010101"
    "01010101010101010101010101010700000000f1536500000000020202020202020202020202020202020202020202020202"
    "02020202020202020000000000000000000000000000000000000000000000000000000000000000ffff7f202a0000000000"
    "0000",
    "fabfb5da7478000000000000000000009e0000005d01a06c0102030303030303030303030303030303030303030303030303"
    "03030303030303030c00000064667274316578616d706c6500e1f50500000000102700000000000005000000000000000000"
    "0000000000000000000000000000400000000505050505050505050505050505050505050505050505050505050505050505"
    "0505050505050505050505050505050505050505050505050505050505050505",
    "fabfb5da6d6574617478000000000000760000005dcdf16002f87382046c80843b9aca008477359400825208945151515151"
    "51515151515151515151515151515187038d7ea4c6800080c001a07ae85e3c42fcc58c104a583de1b6842d98d1fc3baa5ff7"
    "c3d63e75d4d8344986a03d9ac2afcd9d6dce5d03d55fb73ea0ceaa63f406c5bc7774a78d7e80111e07eb",
    "fabfb5da696e760000000000000000002800000069a7d25b0100000010000000aa5e005e60f37aece490d68f8dee3c23aa45"
    "71a89f9ccc74850c765efe97f52e",
]
P2P_COMMANDS = ["version", "verack", "ping", "pong", "getaddr", "addr", "inv", "getdata", "notfound", "getheaders",
                "headers", "block", "tx", "metatx"]
MSG_TX, MSG_BLOCK, MSG_META_TX = 1, 2, 0x10
MAX_META_TX_SIZE = 128 * 1024
# The docs' metatx example: a signed EIP-1559 transfer and its keccak256 hash.
META_TX_EXAMPLE = bytes.fromhex(P2P_GOLDEN[-2])[24:]
META_TX_EXAMPLE_HASH = bytes.fromhex("aa5e005e60f37aece490d68f8dee3c23aa4571a89f9ccc74850c765efe97f52e")


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def frame(command, payload=b"", magic=P2P_MAGIC):
    return (magic + command.encode().ljust(12, b"\0") + struct.pack("<I", len(payload)) + sha256d(payload)[:4] +
            payload)


def u32(n):
    return struct.pack("<I", n)


def invs(items):
    return u32(len(items)) + b"".join(u32(t) + h for t, h in items)


def getheaders(locator, stop=bytes(32)):
    return u32(70001) + u32(len(locator)) + b"".join(locator) + stop


def version_payload(start_height=0, extra=b""):
    addr = struct.pack("<Q", 1) + bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]) + struct.pack(">H", 19555)
    ua = b"/defid:0.1.0/"
    return (u32(70001) + struct.pack("<Qq", 1, 1700000000) + addr + addr + struct.pack("<Q", 0x1122334455667788) +
            u32(len(ua)) + ua + u32(start_height) + b"\x01" + extra)


def block_evm_txs(b):
    """The raw EVM txs in a block's metachain payload (docs/p2p.md `block`, then the
    protobuf MetaBlock of docs/metachain.md: field 3, EvmTx, whose field 1 is raw)."""
    def take(at, n):
        if at + n > len(b):
            raise ValueError("truncated")
        return b[at:at + n], at + n

    def blob(at):
        n, at = take(at, 4)
        return take(at, struct.unpack("<I", n)[0])

    def varint(buf, at):
        v = shift = 0
        while True:
            c = buf[at]
            at += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                return v, at

    def fields(buf):
        at = 0
        while at < len(buf):
            key, at = varint(buf, at)
            if key & 7 == 2:
                n, at = varint(buf, at)
                yield key >> 3, buf[at:at + n]
                at += n
            elif key & 7 == 0:
                _, at = varint(buf, at)
            else:
                return

    try:
        _, at = blob(0)  # the header
        n, at = take(at, 4)
        for _ in range(struct.unpack("<I", n)[0]):
            at += 1 + 33  # type, from
            _, at = blob(at)  # to
            at += 24  # amount, fee, nonce
            _, at = blob(at)  # meta_from
            at += 8  # meta_nonce
            _, at = blob(at)  # meta_signature
            _, at = blob(at)  # signature
        payload, _ = blob(at)
        return [raw for f, tx in fields(payload) if f == 3 for g, raw in fields(tx) if g == 1]
    except (ValueError, IndexError, struct.error):
        return []


def corpus_files(target):
    d = os.path.join(CORPUS, target)
    return [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))] if os.path.isdir(d) else []


def p2p_seeds(state):
    """Framed messages of every command: the examples of docs/p2p.md (on their own
    network and re-framed on regtest), the blocks and txs of the other corpora as
    `block`/`tx`/`headers`, chains of them as headers then blocks, requests for
    the fuzzer's template node (DEFI_FUZZ_PRINT_STATE), broken framings, and
    metachain txs (`metatx`, inventory type 0x10) relayed as a peer does."""
    out = []
    for g in P2P_GOLDEN:
        raw = bytes.fromhex(g)
        out.append(raw)
        out.append(frame(raw[4:16].rstrip(b"\0").decode(), raw[24:]))
    nonce = struct.pack("<Q", 0x0123456789abcdef)
    ipv4 = bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1])
    addrs = b"".join(u32(1700000000 + i) + struct.pack("<Q", 1) + ipv4[:15] + bytes([i]) + struct.pack(">H", 8555)
                     for i in range(3))
    basic = [frame("version", version_payload()), frame("version", version_payload(5, b"\x00" * 8)),
             frame("verack"), frame("getaddr"), frame("ping", nonce), frame("pong", nonce),
             frame("addr", u32(3) + addrs), frame("addr", u32(0)), frame("inv", u32(0)), frame("headers", u32(0))]
    out += basic
    out.append(b"".join(basic))

    # Blocks by hash, and every branch from genesis through them.
    blocks = {}
    for b in corpus_files("block_deserialize"):
        header = b[4:128]
        blocks[sha256d(header)] = (header, b)
    children = {}
    for h, (header, _) in blocks.items():
        children.setdefault(header[4:36], []).append(h)
    genesis = bytes.fromhex(state["blocks"][0])
    branches = []

    def walk(at, path):
        if not children.get(at):
            if path:
                branches.append(path)
            return
        for c in sorted(children[at]):
            walk(c, path + [c])

    walk(genesis, [])
    for h, (header, b) in sorted(blocks.items()):
        out.append(frame("block", b))
        out.append(frame("headers", u32(1) + header))
    for path in branches:
        headers = frame("headers", u32(len(path)) + b"".join(blocks[h][0] for h in path))
        out.append(headers)
        # What a peer sends to sync: headers, then the blocks asked for.
        out.append(headers + b"".join(frame("block", blocks[h][1]) for h in path))
        out.append(frame("inv", invs([(2, path[-1])])) + headers)
    txs = corpus_files("tx_deserialize")
    for tx in txs:
        out.append(frame("tx", tx))
    out.append(b"".join(frame("tx", tx) for tx in txs))
    if branches:
        longest = max(branches, key=len)
        out.append(b"".join(frame("block", blocks[h][1]) for h in longest) + b"".join(frame("tx", tx) for tx in txs))

    # Requests for what the template node has.
    ours = [bytes.fromhex(h) for h in state["blocks"]]
    pooled = [bytes.fromhex(t) for t in state["mempool"]]
    unknown = b"\x42" * 32
    requests = [
        frame("getheaders", getheaders([ours[-1]])),
        frame("getheaders", getheaders([ours[0]])),
        frame("getheaders", getheaders([unknown, ours[1]], ours[2])),
        frame("getheaders", getheaders([], ours[1])),
        frame("getdata", invs([(2, h) for h in ours] + [(1, t) for t in pooled] + [(2, unknown), (1, unknown)])),
        frame("inv", invs([(1, t) for t in pooled] + [(1, unknown), (2, ours[-1])])),
        frame("notfound", invs([(2, unknown), (1, unknown)])),
    ]
    out += requests
    out.append(b"".join(requests))
    out.append(frame("version", version_payload()) + frame("verack") + b"".join(requests))

    # Broken framings: bad checksum, oversized, bad command, another network,
    # an unknown command, a truncated message, a malformed payload.
    ping = frame("ping", nonce)
    out.append(ping[:20] + b"\0\0\0\0" + ping[24:])
    out.append(P2P_MAGIC + b"block".ljust(12, b"\0") + u32(0xffffffff) + bytes(4))
    out.append(P2P_MAGIC + b"pi\0ng".ljust(12, b"\0") + u32(0) + sha256d(b"")[:4])
    out.append(frame("verack", magic=bytes.fromhex("d1ef4d43")))
    out.append(frame("sendcmpct", b"\0" * 9) + frame("ping", nonce))
    out.append(frame("verack") + ping[:-3])
    out.append(frame("ping", nonce + b"\0") + frame("inv", u32(50001)) + frame("pong", nonce))

    # Metachain txs (`metatx`, inventory type 0x10): the EVM txs of the saved
    # blocks' payloads and the docs' example, as a peer relays them (announced,
    # asked for, sent); the size limits (1 byte .. 128 KiB); the neighbouring
    # inventory types, which are malformed.
    evm = [META_TX_EXAMPLE] + sorted({raw for _, (_, b) in sorted(blocks.items()) for raw in block_evm_txs(b)})
    meta_hashes = [META_TX_EXAMPLE_HASH, unknown]
    for raw in evm:
        out.append(frame("metatx", raw))
    out.append(b"".join(frame("metatx", raw) for raw in evm))
    metas = [
        frame("inv", invs([(MSG_META_TX, h) for h in meta_hashes])),
        frame("getdata", invs([(MSG_META_TX, h) for h in meta_hashes])),
        frame("notfound", invs([(MSG_META_TX, unknown)])),
        frame("inv", invs([(MSG_META_TX, META_TX_EXAMPLE_HASH)] + [(MSG_TX, t) for t in pooled] +
                          [(MSG_BLOCK, ours[-1]), (MSG_META_TX, unknown)])),
        frame("getdata", invs([(MSG_BLOCK, ours[-1])] + [(MSG_META_TX, t) for t in pooled] +
                              [(MSG_TX, t) for t in pooled] + [(MSG_META_TX, META_TX_EXAMPLE_HASH)])),
        frame("metatx", b"\x02"),
        frame("metatx", META_TX_EXAMPLE[:-1]),
        frame("metatx", META_TX_EXAMPLE + b"\0"),
        frame("metatx", bytes(MAX_META_TX_SIZE)),
    ]
    out += metas
    relay = frame("inv", invs([(MSG_META_TX, META_TX_EXAMPLE_HASH)])) + frame("metatx", META_TX_EXAMPLE)
    out.append(relay)
    out.append(frame("version", version_payload()) + frame("verack") + relay + frame("metatx", META_TX_EXAMPLE) +
               frame("getdata", invs([(MSG_META_TX, META_TX_EXAMPLE_HASH)])))
    out.append(b"".join(metas[:5]) + b"".join(frame("metatx", raw) for raw in evm))
    out.append(frame("metatx") + ping)
    out.append(frame("metatx", bytes(MAX_META_TX_SIZE + 1)))
    for t in (0, 3, 0x0F, 0x11):
        out.append(frame("getdata", invs([(MSG_META_TX, META_TX_EXAMPLE_HASH), (t, unknown)])))
    for data in out:
        save("p2p_message", data)

    # Its dictionary: magic, commands as in a header, a few fields.
    tokens = [P2P_MAGIC] + [c.encode().ljust(12, b"\0") for c in P2P_COMMANDS]
    tokens += [u32(70001), u32(1), u32(2), u32(2000), u32(2001), bytes.fromhex("ffff7f20"), bytes(32)] + ours[:2]
    tokens += [u32(MSG_META_TX), u32(MAX_META_TX_SIZE), u32(MAX_META_TX_SIZE + 1), META_TX_EXAMPLE_HASH]
    with open(os.path.join(ROOT, "p2p_message.dict"), "w") as f:
        f.write("# libFuzzer dictionary, written by make_corpus.py\n")
        for t in tokens:
            f.write("\"" + "".join("\\x%02x" % c for c in t) + "\"\n")


def write_dict(name, tokens):
    with open(os.path.join(ROOT, name + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary, written by make_corpus.py\n")
        for t in tokens:
            f.write(json.dumps(t) + "\n")


def dictionaries(methods, state):
    json_tokens = ["{", "}", "[", "]", ":", ",", "\"", "\\u0000", "\\ud800", "null", "true", "false", "-0", "1e400",
                   "0.00000001", "1e-8", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
                   "2147483648", "1200000000"]
    keys = ["\"jsonrpc\"", "\"2.0\"", "\"1.0\"", "\"id\"", "\"method\"", "\"params\"",
            "\"blockhash\"", "\"verbosity\"", "\"address\"", "\"amount\"", "\"txid\"", "\"verbose\""]
    names = ["\"%s\"" % m for m in methods]
    values = ["\"%s\"" % v for v in state["addresses"] + state["blocks"] + state["mempool"] + state["blocktxs"]]
    # Meta (0x) addresses, hashes and raw EVM txs.
    values += ["\"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\"", "\"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf\"",
               "\"0x\"", "\"0x02\""]
    write_dict("jsonrpc_request", json_tokens + keys + names + values)
    write_dict("amount_parse", [".", "e", "E", "e-", "E+", "-", "+", "0", "00000000", "00000001", "1200000000",
                                "\"", "1e-8", "99999999"])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--p2p":
        p2p_seeds(template_state(sys.argv[2]))
        print("%-20s %d files" % ("p2p_message", len(os.listdir(os.path.join(CORPUS, "p2p_message")))))
        return
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    defid, fuzzer = sys.argv[1], sys.argv[2]
    native_chain(defid)
    meta_chain(defid)
    amount_seeds()
    state = template_state(fuzzer)
    methods = [line.split()[0] for line in state["help"].splitlines() if line and not line.startswith("==")]
    jsonrpc_seeds(methods, state)
    dictionaries(methods, state)
    if len(sys.argv) == 4:
        p2p_seeds(template_state(sys.argv[3]))
    for t in sorted(os.listdir(CORPUS)):
        print("%-20s %d files" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
