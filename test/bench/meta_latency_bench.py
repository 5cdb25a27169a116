#!/usr/bin/env python3
"""Metachain tx relay latency over P2P (issue 20), printed by `./make.sh bench`.
Not a test: it prints figures within one run and asserts nothing about time.

Four defids in a line on loopback, each metachain in another mode, as a mixed network
would be:

    A (-meta, in-process, serving eth_* on --rpc-addr and --grpc-addr)
    - B (-meta_rpc grpc://, a metachaind) - C (-meta_rpc http://, a metachaind)
    - D (-meta, in-process, serving eth_* on --rpc-addr)

Setup (not timed): keys funded by `deposittometachain` on A, mined, synced everywhere.

1. Latency, one tx at a time (default 200): an EIP-1559 transfer signed with eth-account
   is sent to A's eth endpoint (eth_sendRawTransaction); the bench polls the eth
   endpoints of B, C and D (eth_getTransactionByHash, each over a kept-alive connection)
   until D's metachain has it in its pool, then mines one block on D
   (`generatetoaddress 1`) and polls C (eth_getTransactionReceipt) until the receipt is
   there. Figures from the moment the send started: in B's, C's, D's pool (1, 2, 3 hops),
   D's block mined, receipt at C (one more hop, a block); and the hop D -> C of the block.
   Every node is back on one tip before the next tx, and the bench then waits a random
   0 to `--jitter-ms` (default 150) ms, so sends do not keep one phase to the nodes'
   100 ms rounds (which restart when the previous block arrives).
2. Burst: M txs (default 500, from `--senders` keys, at most 64 pending each) sent to A
   back to back; the time until D's pool holds all of them (meta_getStatus.mempoolSize),
   then one block on D and every receipt at C.

    test/bench/meta_latency_bench.py [--defid build/defid] [--metachaind target/release/metachaind]
                                     [--txs 200] [--burst 500] [--senders 10] [--jitter-ms 150]
                                     [--tmpdir /dev/shm] [--keep]

Each node reads its metachain's relay feed every 100 ms (PeerManager::META_POLL_INTERVAL)
and its message thread sleeps up to 100 ms when idle, so expect up to ~100 ms per hop."""
import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback

from eth_account import Account
from eth_utils import keccak, to_checksum_address

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "functional"))

from framework.metachaind import Metachaind  # noqa: E402
from framework.test_node import TestNode, connect_nodes  # noqa: E402
from framework.util import wait_until  # noqa: E402
from bench_rpc import Client, hx, percentile  # noqa: E402

GWEI = 10**9
MAX_FEE, TIP = 20 * GWEI, 1 * GWEI
POLL_S = 0.0005  # between poll rounds: leaves the 2 cores to the nodes


def eth_url(node):
    """The http:// URL the embedded metachain of an -meta node serves (its debug.log)."""
    found = re.search(r"embedded metachain serving .*?(http://\S+)", node.debug_log)
    return found.group(1) if found else None


class Line:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="meta_latency_bench.", dir=args.tmpdir)
        self.servers, self.nodes, self.clients = [], [], []

    def start(self):
        a = self.args
        d = lambda name: os.path.join(self.tmp, name)  # noqa: E731
        self.servers = [Metachaind(a.metachaind, d(f"metachaind_{m}")).start() for m in ("b", "c")]
        specs = [
            ("A", ["-meta=--rpc-addr=127.0.0.1:0 --grpc-addr=127.0.0.1:0"]),
            ("B", self.servers[0].defid_args("grpc")),
            ("C", self.servers[1].defid_args("jsonrpc")),
            ("D", ["-meta=--rpc-addr=127.0.0.1:0"]),
        ]
        for name, extra in specs:
            self.nodes.append(TestNode(a.defid, d(name), ["-noconnect", "-listen=1", *extra]).start())
        for n in self.nodes:
            n.wait_for_rpc(timeout=60)
        for n in (self.nodes[0], self.nodes[3]):
            wait_until(lambda: eth_url(n), timeout=30, what="the embedded metachain's URL in debug.log")
        self.urls = [eth_url(self.nodes[0]), self.servers[0].http_url, self.servers[1].http_url,
                     eth_url(self.nodes[3])]
        for left, right in zip(self.nodes, self.nodes[1:]):
            connect_nodes(right, left)
        self.clients = [Client(u) for u in self.urls]
        return self

    def synced(self):
        return (len({n.getbestblockhash() for n in self.nodes}) == 1
                and len({n.getmetachaininfo()["hash"] for n in self.nodes}) == 1)

    def wait_synced(self):
        wait_until(self.synced, timeout=60, interval=0.01, what="one tip on every node")

    def close(self):
        for c in self.clients:
            c.close()
        for n in self.nodes:
            n.kill()
        for s in self.servers:
            s.kill()
        if self.args.keep:
            print(f"datadirs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def pooled(client, h):
    tx = client.call("eth_getTransactionByHash", h)
    return tx is not None and tx.get("blockHash") is None


def latency(line, senders, chain_id, nonces, n, jitter_ms):
    """Phase 1: one tx at a time; per tx the ms from the send to each event."""
    a, b, c, d = line.clients
    miner = line.nodes[3]
    addr = miner.getnewaddress()
    rows = []
    rng = random.Random(20)
    for i in range(n):
        time.sleep(rng.uniform(0, jitter_ms) / 1000)
        s = senders[i % len(senders)]
        to = to_checksum_address(keccak(text=f"meta_latency_bench {i}")[12:])
        raw = s.sign_transaction({"type": 2, "chainId": chain_id, "nonce": nonces[s.address], "to": to,
                                  "value": 1, "gas": 21_000, "maxFeePerGas": MAX_FEE,
                                  "maxPriorityFeePerGas": TIP}).raw_transaction
        nonces[s.address] += 1
        h = hx(keccak(bytes(raw)))
        seen = {}
        t0 = time.monotonic()
        if a.call("eth_sendRawTransaction", hx(raw)).lower() != h:
            raise RuntimeError(f"tx {i}: A returned another hash")
        seen["A"] = time.monotonic()
        deadline = t0 + 30
        while "D" not in seen:
            for name, cl in (("B", b), ("C", c), ("D", d)):
                if name not in seen and pooled(cl, h):
                    seen[name] = time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError(f"tx {i} {h}: not in D's pool after 30 s (seen: {sorted(seen)})")
            time.sleep(POLL_S)
        for name in ("B", "C"):  # a hop may have been passed between two polls
            seen.setdefault(name, seen["D"])
        miner.generatetoaddress(1, addr)
        seen["mined"] = time.monotonic()
        while True:
            r = c.call("eth_getTransactionReceipt", h)
            if r:
                seen["receipt"] = time.monotonic()
                break
            if time.monotonic() > deadline + 30:
                raise RuntimeError(f"tx {i} {h}: no receipt at C")
            time.sleep(POLL_S)
        if r["status"] != "0x1":
            raise RuntimeError(f"tx {i} {h} failed: {r}")
        rows.append({k: (v - t0) * 1000 for k, v in seen.items()})
        line.wait_synced()
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{n} txs", flush=True)
    return rows


def burst(line, senders, chain_id, nonces, m):
    """Phase 2: m txs sent back to back to A; when D's pool holds them all; then one
    block on D and the receipts at C."""
    a, _, c, d = line.clients
    raws = []
    for i in range(m):
        s = senders[i % len(senders)]
        to = to_checksum_address(keccak(text=f"meta_latency_bench burst {i}")[12:])
        raws.append(s.sign_transaction({"type": 2, "chainId": chain_id, "nonce": nonces[s.address], "to": to,
                                        "value": 1, "gas": 21_000, "maxFeePerGas": MAX_FEE,
                                        "maxPriorityFeePerGas": TIP}).raw_transaction)
        nonces[s.address] += 1
    before = d.call("meta_getStatus").get("mempoolSize", 0)
    t0 = time.monotonic()
    for raw in raws:
        a.call("eth_sendRawTransaction", hx(raw))
    sent = time.monotonic()
    first = None
    while True:
        size = d.call("meta_getStatus").get("mempoolSize", 0) - before
        now = time.monotonic()
        if size > 0 and first is None:
            first = now
        if size >= m:
            break
        if now - t0 > 120:
            raise RuntimeError(f"burst: D's pool holds {size} of {m} after 120 s")
        time.sleep(0.001)
    all_in = time.monotonic()
    line.nodes[3].generatetoaddress(1, line.nodes[3].getnewaddress())
    mined = time.monotonic()
    last = hx(keccak(bytes(raws[-1])))
    wait_until(lambda: c.call("eth_getTransactionReceipt", last), timeout=60, interval=0.001,
               what="the burst's last receipt at C")
    receipts = time.monotonic()
    missing = [i for i, raw in enumerate(raws) if not c.call("eth_getTransactionReceipt", hx(keccak(bytes(raw))))]
    if missing:
        raise RuntimeError(f"burst: {len(missing)} txs not in D's block (first: {missing[0]})")
    line.wait_synced()
    ms = lambda t: (t - t0) * 1000  # noqa: E731
    return {"sent": ms(sent), "first": ms(first), "all_in": ms(all_in), "mined": ms(mined), "receipts": ms(receipts)}


def report(rows, b, args):
    cols = [
        ("in B's pool (1 hop)", lambda r: r["B"]),
        ("in C's pool (2 hops)", lambda r: r["C"]),
        ("in D's pool (3 hops)", lambda r: r["D"]),
        ("  hop A -> B (from A's acceptance)", lambda r: r["B"] - r["A"]),
        ("  hop B -> C", lambda r: r["C"] - r["B"]),
        ("  hop C -> D", lambda r: r["D"] - r["C"]),
        ("accepted by A (the send)", lambda r: r["A"]),
        ("D's block mined (generatetoaddress)", lambda r: r["mined"] - r["D"]),
        ("block D -> receipt at C", lambda r: r["receipt"] - r["mined"]),
        ("submit -> receipt at C (total)", lambda r: r["receipt"]),
    ]
    print()
    print(f"latency, {len(rows)} txs one at a time, ms from the start of eth_sendRawTransaction at A")
    print(f"{'':38s} {'p50':>8s} {'p99':>8s} {'mean':>8s} {'min':>8s} {'max':>8s}")
    for label, f in cols:
        v = sorted(f(r) for r in rows)
        print(f"{label:38s} {percentile(v, 50):8.1f} {percentile(v, 99):8.1f} {sum(v) / len(v):8.1f} "
              f"{v[0]:8.1f} {v[-1]:8.1f}")
    if b:
        m = args.burst
        print()
        print(f"burst, {m} txs sent back to back to A from {args.senders} senders, ms from the first send")
        print(f"  all sent to A              {b['sent']:8.1f}  ({m / b['sent'] * 1000:.0f} tx/s accepted)")
        print(f"  first in D's pool          {b['first']:8.1f}")
        print(f"  all in D's pool            {b['all_in']:8.1f}  ({m / b['all_in'] * 1000:.0f} tx/s relayed over 3 hops)")
        print(f"  one block on D mined       {b['mined']:8.1f}")
        print(f"  every receipt at C         {b['receipts']:8.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--defid", default=os.environ.get("DEFID", os.path.join(ROOT, "build", "defid")))
    p.add_argument("--metachaind", default=os.environ.get("METACHAIND", os.path.join(ROOT, "target/release/metachaind")))
    p.add_argument("--txs", type=int, default=200, help="txs timed one at a time")
    p.add_argument("--burst", type=int, default=500, help="txs sent back to back (0: no burst)")
    p.add_argument("--senders", type=int, default=10, help="sending keys (at most 64 pending txs each)")
    p.add_argument("--jitter-ms", type=float, default=150, help="random wait before each timed send")
    p.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where the datadirs go (default /dev/shm)")
    p.add_argument("--keep", action="store_true", help="keep the datadirs")
    args = p.parse_args()
    for b in (args.defid, args.metachaind):
        if not os.path.exists(b):
            sys.exit(f"{b} not found: run ./make.sh build first")
    if -(-args.burst // args.senders) > 64:
        sys.exit(f"--senders {args.senders}: a burst of {args.burst} would put more than 64 in the pool per sender")

    print(f"metachain tx relay: A (ffi) - B (grpc metachaind) - C (jsonrpc metachaind) - D (ffi) on loopback; "
          f"{args.txs} txs one at a time, then a burst of {args.burst}", flush=True)
    line = Line(args)
    rc = 0
    try:
        line.start()
        node_a = line.nodes[0]
        coinbase = node_a.getnewaddress()
        node_a.generatetoaddress(3, coinbase)
        senders = [Account.from_key(keccak(text=f"meta_latency_bench sender {i}")) for i in range(args.senders)]
        for s in senders:
            node_a.deposittometachain(coinbase, s.address, "1")
        node_a.generatetoaddress(1, coinbase)
        line.wait_synced()
        chain_id = int(line.clients[0].call("eth_chainId"), 16)
        for cl in line.clients:  # every eth endpoint sees the deposits
            if int(cl.call("eth_getBalance", senders[-1].address, "latest"), 16) != 10**18:
                raise RuntimeError("a sender is not funded on every metachain")
        nonces = {s.address: 0 for s in senders}
        t0 = time.monotonic()
        rows = latency(line, senders, chain_id, nonces, args.txs, args.jitter_ms)
        print(f"  {args.txs} txs relayed, mined and read in {time.monotonic() - t0:.1f} s", flush=True)
        b = burst(line, senders, chain_id, nonces, args.burst) if args.burst else None
        report(rows, b, args)
    except Exception:
        traceback.print_exc()
        rc = 1
    finally:
        line.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
