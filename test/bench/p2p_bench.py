#!/usr/bin/env python3
"""P2P benchmark (issue 17 §8), printed by `./make.sh bench`. Not a test: it
prints figures and ratios within one run and asserts nothing about time.

1. Initial sync: node A (regtest, -meta) builds N blocks (default 2,000), each
   with a metachain payload of >= 100 meta transfers (setup, not timed). Then
   (a) a fresh node B connected to A only downloads them over P2P, and (b) a
   fresh node C without a network connects the same blocks by `submitblock`
   (batched, in order; the block hex is read from A before timing).
2. Propagation: four nodes in a line, a block mined at one end; the median
   time until the far end has it, per hop, over ~30 blocks.

    test/bench/p2p_bench.py [--defid build/defid] [--blocks 2000] [--txs 100]
                            [--prop-blocks 30] [--tmpdir /dev/shm] [--keep]

Every node runs the in-process metachain (-meta); the datadirs go to
/dev/shm by default and are removed at the end.
"""
import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "functional"))

from framework.test_node import TestNode  # noqa: E402
from framework.util import wait_until  # noqa: E402


def batch(node, calls, session=None):
    """One JSON-RPC batch of (method, params) calls; returns the results in
    order, raising on the first error."""
    body = [{"jsonrpc": "1.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(calls)]
    replies = node.post(body).json() if session is None else session(body)
    if isinstance(replies, dict):
        raise RuntimeError(f"batch refused: {replies}")
    replies.sort(key=lambda r: r["id"])
    for r in replies:
        if r.get("error"):
            raise RuntimeError(f"{calls[r['id']][0]}: {r['error']}")
    return [r["result"] for r in replies]


def connect(a, b, timeout=60):
    """`a` opens a connection to `b` (addnode onetry); returns once both sides
    finished the handshake. (framework.test_node.connect_nodes returns the
    peer id through wait_until, so it never returns for a first peer, id 0.)"""
    target = f"127.0.0.1:{b.p2pport}"
    a.addnode(target, "onetry")
    wait_until(lambda: any(p["addr"] == target and p["version"] for p in a.getpeerinfo())
               and any(p["inbound"] and p["version"] for p in b.getpeerinfo()),
               timeout=timeout, interval=0.005, what=f"a connection to {target}")


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="p2p_bench.", dir=args.tmpdir)
        self.nodes = []

    def node(self, name, extra=()):
        n = TestNode(self.args.defid, os.path.join(self.tmp, name), ["-meta", "-listen=1", *extra])
        n.start().wait_for_rpc(timeout=60)
        self.nodes.append(n)
        return n

    def stop(self, n):
        n.stop_process(timeout=120)
        self.nodes.remove(n)

    def close(self):
        for n in self.nodes:
            n.kill()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"datadirs kept in {self.tmp}")

    # 1. Initial sync

    def build_chain(self):
        """Node A: N blocks, each with >= txs meta transfers in its payload.
        Funds a few meta addresses by deposit, then per block one RPC batch of
        `txs` metatransfers (round-robin between the addresses, each signed by
        the wallet) followed by generatetoaddress 1."""
        a = self.node("a", ["-noconnect"])
        n, txs = self.args.blocks, self.args.txs
        addr = a.getnewaddress()
        # Block 1 pays the coinbase that funds everything (no txs before it);
        # block 2 carries `txs` deposits (each a metachain tx); blocks 3 to
        # N + 1 carry `txs` transfers each.
        a.generatetoaddress(1, addr)
        metas = [a.getnewmetaaddress() for _ in range(8)]
        batch(a, [("deposittometachain", (addr, metas[i % len(metas)], "0.01")) for i in range(txs)])
        a.generatetoaddress(1, addr)
        n += 1
        start_height = a.getblockcount()
        t0 = time.monotonic()
        with requests.Session() as s:
            auth = a.auth()

            def post(body):
                h = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
                     "Content-Type": "application/json"}
                return s.post(a.url, data=json.dumps(body), headers=h, timeout=120).json()
            k = len(metas)
            for b in range(n - start_height):
                calls = [("metatransfer", (metas[(b + i) % k], metas[(b + i + 1) % k], "0.00000001"))
                         for i in range(txs)]
                calls.append(("generatetoaddress", (1, addr)))
                batch(a, calls, post)
                if (start_height + b + 1) % 500 == 0:
                    print(f"  built {start_height + b + 1}/{n} blocks ({time.monotonic() - t0:.0f} s)", flush=True)
        assert a.getblockcount() == n
        build_s = time.monotonic() - t0
        return a, build_s

    def count_meta_txs(self, a, height):
        info = a.getblock(a.getblockhash(height))
        try:
            mb = a.getmetablock(info["metablockhash"])
        except Exception:
            return None
        for key in ("txs", "transactions", "tx"):
            if isinstance(mb.get(key), list):
                return len(mb[key])
        return None

    def sync_over_p2p(self, a):
        b = self.node("b", ["-noconnect"])
        n = a.getblockcount()
        t0 = time.monotonic()
        connect(b, a)
        wait_until(lambda: b.getblockcount() >= n, timeout=1800, interval=0.01, what="B's sync")
        secs = time.monotonic() - t0
        assert b.getbestblockhash() == a.getbestblockhash()
        assert b.getmetachaininfo()["hash"] == a.getmetachaininfo()["hash"]
        self.stop(b)
        return secs

    def sync_by_submitblock(self, a, per_batch):
        n = a.getblockcount()
        hashes = []
        for lo in range(1, n + 1, 1000):
            hashes += batch(a, [("getblockhash", (h,)) for h in range(lo, min(n, lo + 999) + 1)])
        blocks = []
        for lo in range(0, n, 100):
            blocks += batch(a, [("getblock", (h, 0)) for h in hashes[lo:lo + 100]])
        size = sum(len(x) // 2 for x in blocks)
        c = self.node("c", ["-noconnect", "-listen=0"])
        t0 = time.monotonic()
        for lo in range(0, n, per_batch):
            results = batch(c, [("submitblock", (x,)) for x in blocks[lo:lo + per_batch]])
            bad = [r for r in results if r is not None]
            if bad:
                raise RuntimeError(f"submitblock at {lo}: {bad[0]}")
        secs = time.monotonic() - t0
        assert c.getblockcount() == n and c.getbestblockhash() == a.getbestblockhash()
        assert c.getmetachaininfo()["hash"] == a.getmetachaininfo()["hash"]
        self.stop(c)
        return secs, size

    # 2. Propagation

    def propagation(self):
        """Four nodes in a line; per block, the time from sending
        generatetoaddress to node 0 until each node's getblockcount shows it
        (a thread per node polls over a kept-alive connection). Blocks first
        without metachain txs, then with `txs` meta transfers each (put into
        node 0's pool before the clock starts)."""
        nodes = [self.node(f"line{i}", ["-noconnect"]) for i in range(4)]
        for left, right in zip(nodes, nodes[1:]):
            connect(right, left)
        addr = nodes[0].getnewaddress()
        nodes[0].generatetoaddress(5, addr)
        metas = [nodes[0].getnewmetaaddress() for _ in range(4)]
        batch(nodes[0], [("deposittometachain", (addr, m, "1")) for m in metas])
        nodes[0].generatetoaddress(1, addr)
        wait_until(lambda: len({x.getbestblockhash() for x in nodes}) == 1, timeout=60, what="the line's sync")
        results = {}
        for txs in (0, self.args.txs):
            ends = []
            for b in range(self.args.prop_blocks):
                if txs:
                    batch(nodes[0], [("metatransfer", (metas[(b + i) % 4], metas[(b + i + 1) % 4], "0.00000001"))
                                     for i in range(txs)])
                ends.append(self.time_one_block(nodes, addr))
            results[txs] = ends
        for x in nodes:
            self.stop(x)
        return results

    @staticmethod
    def time_one_block(nodes, addr):
        """Mines one block on nodes[0]; returns (ms until nodes[0] had it, ms
        from then until the far end had it). nodes[0] has it at the earlier of
        its getblockcount showing it and generatetoaddress returning (the
        announcement may go out before the RPC returns). Only the two ends are
        polled, a thread each, so the pollers leave CPU to the nodes."""
        target = nodes[0].getblockcount() + 1
        ends = (nodes[0], nodes[-1])
        seen = [None, None]
        ready = threading.Barrier(3)

        def watch(i):
            with requests.Session() as s:
                h = {"Authorization": "Basic " + base64.b64encode(ends[i].auth().encode()).decode()}
                body = '{"jsonrpc":"1.0","id":0,"method":"getblockcount","params":[]}'
                s.post(ends[i].url, data=body, headers=h, timeout=10)
                ready.wait()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if s.post(ends[i].url, data=body, headers=h, timeout=10).json()["result"] >= target:
                        seen[i] = time.monotonic()
                        return
                    time.sleep(0.0002)
        threads = [threading.Thread(target=watch, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        ready.wait()
        t0 = time.monotonic()
        nodes[0].generatetoaddress(1, addr)
        returned = time.monotonic()
        for t in threads:
            t.join()
        if None in seen:
            raise RuntimeError(f"block {target} did not reach both ends: {seen}")
        mined = min(seen[0], returned)
        return (mined - t0) * 1000, (seen[1] - mined) * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--defid", default=os.environ.get("DEFID", os.path.join(ROOT, "build", "defid")))
    p.add_argument("--metachaind", default=os.environ.get("METACHAIND", os.path.join(ROOT, "target/release/metachaind")),
                   help="unused: every node runs the in-process metachain (-meta)")
    p.add_argument("--blocks", type=int, default=2000)
    p.add_argument("--txs", type=int, default=100, help="meta transfers per block")
    p.add_argument("--submit-batch", type=int, default=50, help="submitblock calls per RPC batch")
    p.add_argument("--prop-blocks", type=int, default=30)
    p.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where the datadirs go (default /dev/shm, a tmpfs: building the chain on a disk "
                        "costs an fsync per wallet tx; pass /tmp to measure on disk)")
    p.add_argument("--keep", action="store_true", help="keep the datadirs")
    args = p.parse_args()
    if not os.path.exists(args.defid):
        sys.exit(f"{args.defid} not found: run ./make.sh build first")

    bench = Bench(args)
    try:
        print(f"initial sync: building {args.blocks} blocks x {args.txs} meta transfers on node A (setup, not timed)",
              flush=True)
        a, build_s = bench.build_chain()
        n = a.getblockcount()
        samples = {h: bench.count_meta_txs(a, h) for h in (2, 3, n // 2, n)}
        print(f"  built in {build_s:.0f} s; metachain txs in sample blocks: {samples}", flush=True)
        p2p_s = bench.sync_over_p2p(a)
        sub_s, size = bench.sync_by_submitblock(a, args.submit_batch)
        print(f"  {n} blocks (block 1 the funding coinbase, then {args.blocks} with payloads), "
              f"{size / 1e6:.1f} MB, {args.blocks * args.txs} metachain txs")
        print(f"  (a) P2P download, fresh node B <- A:        {p2p_s:7.2f} s  {n / p2p_s:8.1f} blocks/s")
        print(f"  (b) submitblock loop, fresh node C, no net: {sub_s:7.2f} s  {n / sub_s:8.1f} blocks/s")
        print(f"  ratio P2P / submitblock: {p2p_s / sub_s:.2f}x (target <= 1.25x)", flush=True)
        bench.stop(a)

        print(f"propagation: 4 nodes in a line (3 hops), {args.prop_blocks} blocks mined at one end; "
              "time from node 0 having the block to node 3 having it", flush=True)
        for txs, rows in bench.propagation().items():
            far = [r[1] for r in rows]
            med = statistics.median(far)
            print(f"  {txs:3d} metachain txs/block: far end {med:5.1f} ms median (min {min(far):.1f}, "
                  f"max {max(far):.1f}) -> {med / 3:4.1f} ms per hop (target <= 20 ms); "
                  f"mining on node 0 took {statistics.median(r[0] for r in rows):.1f} ms", flush=True)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
