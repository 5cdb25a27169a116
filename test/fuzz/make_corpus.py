#!/usr/bin/env python3
"""Regenerates the committed seed corpora in test/fuzz/corpus/ from real runs.

    test/fuzz/make_corpus.py <defid> <jsonrpc_request fuzzer>

Starts <defid> -regtest twice (alone, and with -meta for deposits,
withdrawals and blocks with a metachain payload), drives it over JSON-RPC,
and saves what it returns: the bytes of every tx (getrawtransaction) and
block (getblock <hash> 0). The JSON-RPC bodies name the hashes, txids and
addresses of the fuzzer's own template node (DEFI_FUZZ_PRINT_STATE=1), one or
more bodies for every method its `help` lists. Files are named by content hash,
so a rerun only adds.
"""
import base64
import hashlib
import json
import os
import socket
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
    meta_addr = "dmc1lzw7nwg77phjx94kmmhz7w6pc9gqp63acl87hy"
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
        "getmetabalance": [[meta_addr]],
        "getmetablock": [["0"], [zero_hash]],
        "deposittometachain": [[addr, meta_addr, "1"]],
        "withdrawfrommetachain": [[meta_addr, addr, "1"]],
        "metatransfer": [[meta_addr, meta_addr, "1"]],
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
    write_dict("jsonrpc_request", json_tokens + keys + names + values)
    write_dict("amount_parse", [".", "e", "E", "e-", "E+", "-", "+", "0", "00000000", "00000001", "1200000000",
                                "\"", "1e-8", "99999999"])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    defid, fuzzer = sys.argv[1], sys.argv[2]
    native_chain(defid)
    meta_chain(defid)
    amount_seeds()
    state = template_state(fuzzer)
    methods = [line.split()[0] for line in state["help"].splitlines() if line and not line.startswith("==")]
    jsonrpc_seeds(methods, state)
    dictionaries(methods, state)
    for t in sorted(os.listdir(CORPUS)):
        print("%-20s %d files" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
