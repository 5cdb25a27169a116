"""Chaos (issue 20): four nodes in mixed metachain modes (ffi, grpc, jsonrpc, ffi) in a
ring. Clients send EVM transfers, ERC-20 calls, wallet meta transfers, deposits and
withdrawals to random nodes, through the nodes' eth JSON-RPC or defid's RPCs, while
rounds mine on random nodes, kill -9 a random defid or metachaind at a random moment
(during mining, right after a send, while a block arrives, while a node reorgs at a heal)
and restart it, and cut the ring in two and heal it (so the shorter side reorgs). Every
node runs with -noconnect: the test dials the ring's links itself (addnode onetry) and
cuts them with disconnectnode.

After every round every node has the same native tip and metachain tip, the same
eth_getBalance and token balances for a sample of accounts, and the lock invariant. At
the end no tx is lost: one mined in a block that stayed on the best chain has its
receipt in that block on every node; one mined only on a branch that lost, or accepted
and never seen mined, is mined (on every node) or superseded by another tx at its nonce.

The randomness is seeded: CHAOS_SEED=<n> reproduces a run's choices (the kills' exact
moments are timing); CHAOS_ROUNDS=<n> changes the number of rounds (20)."""
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
from web3 import Web3
from web3.exceptions import Web3Exception

from framework import contracts
from framework.meta_key import MetaKey, eip1559, tx_hash
from framework.metachain import D, assert_invariant, coins_to_wei, deposit_tx_hash, h, units
from framework.metachaind import Metachaind
from framework.test_node import RPCError, TestNode
from framework.util import wait_until

SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))
ROUNDS = int(os.environ.get("CHAOS_ROUNDS") or 20)
MODES = ("ffi", "grpc", "jsonrpc", "ffi")
RING = ((0, 1), (1, 2), (2, 3), (3, 0))  # (dialer, listener)
EMBEDDED = "-meta=--grpc-addr=127.0.0.1:0 --rpc-addr=127.0.0.1:0"
ETH_URL = re.compile(r"embedded metachain serving grpc://\S+ (http://\S+)")
SEND_ERRORS = (RPCError, Web3Exception, ValueError)  # a refusal, with its reason
GONE = (requests.exceptions.RequestException, ConnectionError)  # the node died under the call


def alive(process):
    return process is not None and process.poll() is None


class Member:
    """One defid, its metachaind (grpc/jsonrpc) or none (ffi), and a web3 on its metachain."""

    def __init__(self, index, mode, defid_bin, metachaind_bin, tmp):
        self.index, self.mode = index, mode
        self.server = Metachaind(metachaind_bin, str(tmp / f"metachaind{index}")) if mode != "ffi" else None
        self.base_args = ["-listen=1", "-noconnect"] + ([EMBEDDED] if mode == "ffi" else [])
        self.node = TestNode(defid_bin, str(tmp / f"node{index}"), self.base_args)
        self.w3 = None
        self.runs = 0

    def __repr__(self):
        return f"node{self.index}({self.mode})"

    @property
    def defid_up(self):
        return alive(self.node.process)

    @property
    def healthy(self):
        """defid up and its metachain reachable."""
        return self.defid_up and (self.server is None or alive(self.server.process))

    def _eth_urls(self):
        return ETH_URL.findall(self.node.debug_log)

    def start(self):
        if self.server is not None:
            if not alive(self.server.process):
                self.server.start()
            self.node.extra_args = self.base_args + self.server.defid_args(self.mode)
        logged = len(self._eth_urls())
        self.node.start().wait_for_rpc(timeout=90)
        self.runs += 1
        if self.server is None:
            url = wait_until(lambda: (u := self._eth_urls()) and len(u) > logged and u[-1], timeout=30,
                             what=f"{self}'s eth endpoint in its log")
        else:
            url = self.server.http_url
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        return self

    def eth(self, method, *params):
        reply = self.w3.provider.make_request(method, list(params))
        if reply.get("error"):
            raise RuntimeError(f"{self} {method}{params}: {reply['error']}")
        return reply["result"]


@dataclass
class Sent:
    """One tx a client sent: `hash` is its metachain hash (the system tx's for a deposit),
    `native` the native txid of a deposit or withdrawal."""
    kind: str
    hash: str
    node: int
    round: int
    sender: str = None
    nonce: int = None
    native: str = None
    status: str = "accepted"  # accepted, refused (reason in `why`), uncertain (the node died under the call)
    why: str = ""
    via: str = ""
    seen: dict = field(default_factory=dict)  # metachain (or native) block hash -> height, where it was seen mined


class Chaos:
    def __init__(self, defid_bin, metachaind_bin, tmp):
        self.rng = random.Random(SEED)
        self.members = [Member(i, m, defid_bin, metachaind_bin, tmp) for i, m in enumerate(MODES)]
        self.cut = set()  # ring links cut by the current partition
        self.sent = []
        self.stats = Counter()
        self.reorg_depths = []
        self.superseded = []
        self.round = 0

    def say(self, text):
        print(f"[r{self.round:02d} {time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    # ---- processes and links ----

    def start(self):
        self.t0 = time.monotonic()
        for m in self.members:
            m.start()
            m.addr = m.node.getnewaddress()
            m.node._mining_address = m.addr
            m.out = m.node.getnewaddress()
            m.meta = m.node.getnewmetaaddress()
        self.reconnect()

    def stop(self):
        for m in self.members:
            m.node.kill()
            if m.server is not None:
                m.server.kill()

    def links(self):
        return [l for l in RING if l not in self.cut]

    def linked(self, i, j):
        target = f"127.0.0.1:{self.members[j].node.p2pport}"
        return any(p["addr"] == target and p["version"] for p in self.members[i].node.getpeerinfo())

    def reconnect(self):
        """Dials every link of the current topology between live nodes that is down, and
        waits until every live node has exactly its links (the dialed side and the other)."""
        up = [m.defid_up for m in self.members]
        want = [(i, j) for i, j in self.links() if up[i] and up[j]]
        expected = Counter()
        for i, j in want:
            expected[i] += 1
            expected[j] += 1
        last_dial = {}

        def done():
            ok = True
            for i, j in want:
                if not self.linked(i, j):
                    ok = False
                    if time.monotonic() - last_dial.get((i, j), 0) > 3:
                        self.members[i].node.addnode(f"127.0.0.1:{self.members[j].node.p2pport}", "onetry")
                        last_dial[(i, j)] = time.monotonic()
            return ok and all(m.node.getconnectioncount() == expected[m.index] for m in self.members if m.defid_up)
        wait_until(done, timeout=60, interval=0.1, what=f"links {want} and no others")

    def restart_dead(self):
        for m in self.members:
            if not m.defid_up or (m.server is not None and not alive(m.server.process)):
                if m.defid_up:  # its metachaind is down: it must not keep a stale endpoint
                    self.await_self_exit(m)
                m.node.process.wait()
                started = time.monotonic()
                m.start()
                self.stats["restarts"] += 1
                self.say(f"restarted {m} (run {m.runs}) in {time.monotonic() - started:.2f}s")

    def kill(self, m, what):
        """SIGKILL now; does not wait."""
        proc = m.node.process if what == "defid" else m.server.process
        if alive(proc):
            proc.send_signal(signal.SIGKILL)

    def reap(self, m, what):
        """After a kill: waits for the process; for a metachaind, lets its defid find out."""
        proc = m.node.process if what == "defid" else m.server.process
        proc.wait(timeout=30)
        if what == "metachaind":
            self.await_self_exit(m)

    def await_self_exit(self, m):
        """A defid whose metachaind died exits by itself, with a clear message, on the next
        block it must connect: a linked peer mines one. Without a linked peer (or if it
        still runs), it is killed."""
        if not m.defid_up:
            return self.check_exit(m)
        for _ in range(2):
            peers = [self.members[j if i == m.index else i] for i, j in self.links() if m.index in (i, j)]
            peers = [p for p in peers if p.healthy]
            if not peers:
                break
            miner = self.rng.choice(peers)
            try:
                self.mine(miner, 1)
            except GONE + SEND_ERRORS:
                pass
            try:
                wait_until(lambda: not m.defid_up, timeout=20, interval=0.05, what=f"{m} to exit")
            except TimeoutError:
                continue
            return self.check_exit(m)
        self.say(f"{m}'s metachaind is down and no block reached it: kill -9 its defid")
        self.stats["defid killed after its metachaind"] += 1
        m.node.kill()

    def check_exit(self, m):
        code, err = m.node.process.wait(), m.node.stderr
        assert code not in (0, -signal.SIGKILL) and "metachain failed" in err, (m, code, err)
        self.stats["defid exits on a dead metachaind"] += 1
        self.say(f"{m} exited by itself ({code}): {err.strip().splitlines()[-1][:150]}")

    # ---- clients ----

    def clients(self):
        self.keys = [MetaKey(0xC4A0_5000 + i) for i in range(6)]  # EVM txs
        self.withdrawers = [MetaKey(0xC4A0_5100 + i) for i in range(2)]  # withdrawals only
        self.sinks = [MetaKey(0xC4A0_5200 + i).address for i in range(4)]
        self.deployer = MetaKey(0xC4A0_5300)
        self.token_abi = contracts.load("Token")

    def accounts(self):
        return ([k.address for k in self.keys + self.withdrawers] + self.sinks + [self.deployer.address]
                + [m.meta for m in self.members])

    def setup_chain(self):
        """Native coins on every wallet; deposits to every client; the token, spread over the keys."""
        for m in self.members:
            self.mine(m, 4)
            self.converge()
        fund = [(k.address, 30) for k in self.keys + self.withdrawers] + [(self.deployer.address, 10)]
        fund += [(m.meta, 5) for m in self.members]
        for n, (to, coins) in enumerate(fund):
            m = self.members[n % 4]
            m.node.deposittometachain(m.addr, to, coins)
        self.mine(self.members[0], 1)
        self.converge()
        deploy = self.deployer.sign_tx(eip1559(0, None, 0, self.token_abi.deploy_data("Chaos", "CH", 10**9),
                                               2_000_000))
        self.members[1].node.sendrawmetatransaction("0x" + deploy.hex())
        self.mine(self.members[1], 1)
        self.converge()
        self.token = self.members[2].eth("eth_getTransactionReceipt", tx_hash(deploy))["contractAddress"]
        for n, k in enumerate(self.keys):
            raw = self.deployer.sign_tx(eip1559(1 + n, self.token, 0, self.token_abi.encode_call(
                "transfer", k.address, 10**7), 100_000))
            self.members[3].w3.eth.send_raw_transaction(raw)
        self.mine(self.members[3], 1)
        self.converge()
        for k in self.keys:
            assert self.token_balance(self.members[0], k.address, "latest") == 10**7

    def token_balance(self, m, holder, block):
        slot = "0x%064x" % contracts.erc20_balance_slot(holder)
        return int(m.eth("eth_getStorageAt", self.token, slot, block), 16)

    def track(self, s):
        self.sent.append(s)
        self.stats[f"sent {s.kind}"] += 1
        self.stats[f"{s.status} txs"] += 1
        if s.status == "refused":
            self.say(f"{self.members[s.node]} refused a {s.kind}: {s.why[:160]}")
        return s

    def send_one(self, m, kind=None, used=None):
        """One client op to `m`: the Sent record."""
        used = used if used is not None else set()
        kind = kind or self.rng.choices(["transfer", "erc20", "metatransfer", "deposit", "withdrawal"],
                                        [30, 30, 10, 18, 12])[0]
        if kind in ("transfer", "erc20"):
            free = [k for k in self.keys if k.address not in used] or self.keys
            key = self.rng.choice(free)
            used.add(key.address)
            if kind == "transfer":
                to, value, data, gas = self.rng.choice(self.sinks + [k.address for k in self.keys]), \
                    self.rng.randrange(1, 10**15), b"", 21_000
            else:
                holder = self.rng.choice(self.sinks + [k.address for k in self.keys])
                to, value, gas = self.token, 0, 100_000
                data = self.token_abi.encode_call("transfer", holder, self.rng.randint(1, 1000))
            via = self.rng.choice(("eth", "defid"))
            s = Sent(kind, None, m.index, self.round, sender=key.address, via=via)
            try:
                s.nonce = m.w3.eth.get_transaction_count(key.address, "pending")
                raw = key.sign_tx(eip1559(s.nonce, to, value, data, gas))
                s.hash = tx_hash(raw)
                if via == "eth":
                    got = m.w3.eth.send_raw_transaction(raw).to_0x_hex()
                else:
                    got = m.node.sendrawmetatransaction("0x" + raw.hex())
                assert h(got) == h(s.hash), (got, s.hash)
            except SEND_ERRORS as e:
                s.status, s.why = "refused", str(e)
            except GONE as e:
                s.status, s.why = "uncertain", repr(e)
            return self.track(s) if s.hash else None
        if kind == "metatransfer":
            s = Sent(kind, None, m.index, self.round, sender=m.meta)
            try:
                s.hash = "0x" + h(m.node.metatransfer(m.meta, self.rng.choice(self.sinks), D("0.001")))
                s.nonce = int(m.eth("eth_getTransactionByHash", s.hash)["nonce"], 16)
            except SEND_ERRORS as e:
                s.status, s.why, s.hash = "refused", str(e), s.hash or f"refused-{len(self.sent)}"
            except GONE:
                return None  # no hash to follow
            return self.track(s)
        if kind == "deposit":
            to = self.rng.choice([k.address for k in self.keys + self.withdrawers])
            coins = self.rng.choice(["0.5", "1", "2"])
            s = Sent(kind, None, m.index, self.round, sender=m.addr)
            try:
                s.native = m.node.deposittometachain(m.addr, to, D(coins))
                s.hash = deposit_tx_hash(s.native, to, coins_to_wei(coins))
            except SEND_ERRORS as e:
                s.status, s.why, s.hash = "refused", str(e), f"refused-{len(self.sent)}"
            except GONE:
                return None
            return self.track(s)
        # A withdrawal signed outside the wallet at the account's next withdrawal nonce:
        # its committed nonce plus its withdrawals in this node's mempool.
        free = [k for k in self.withdrawers if k.address not in used] or self.withdrawers
        key = self.rng.choice(free)
        used.add(key.address)
        coins = self.rng.choice(["0.1", "0.25", "0.5"])
        s = Sent(kind, None, m.index, self.round, sender=key.address)
        try:
            pending = sum(1 for t in m.node.getrawmempool()
                          if (m.node.getrawtransaction(t, True).get("metafrom") or "").lower() == key.address.lower())
            s.nonce = m.node.getmetabalance(key.address)["nonce"] + pending
            sig = key.sign_withdrawal(m.out, units(coins), s.nonce)
            s.native = m.node.withdrawfrommetachain(key.address, m.out, D(coins), sig.hex())
            s.hash = "native-" + s.native
        except SEND_ERRORS as e:
            s.status, s.why, s.hash = "refused", str(e), f"refused-{len(self.sent)}"
        except GONE:
            return None
        return self.track(s)

    def send_some(self, group, n):
        used = set()
        for _ in range(n):
            targets = [m for m in group if m.healthy]
            if targets:
                self.send_one(self.rng.choice(targets), used=used)

    # ---- mining and agreement ----

    def mine(self, m, n):
        hashes = []
        for _ in range(n):
            hashes += m.node.generatetoaddress(1, m.addr)
            self.stats["blocks mined"] += 1
        return hashes

    def tips(self):
        return [(m.node.getbestblockhash(), m.node.getmetachaininfo()["hash"]) for m in self.members]

    def converge(self, timeout=90, before=None):
        """Every node on the same native and metachain tip. A tie (two branches of equal
        work: after a heal, or two nodes that mined at once) is broken by one more block;
        the nodes that leave their branch count as reorgs."""
        deadline = time.monotonic() + timeout
        stuck_since, last = None, None
        while True:
            tips = self.tips()
            if len(set(tips)) == 1:
                if before:
                    self.count_reorgs(before)
                return tips[0]
            if tips != last:
                stuck_since, last = time.monotonic(), tips
            heights = {m.node.getblockcount() for m in self.members}
            if len(heights) == 1 and time.monotonic() - stuck_since > 1.5:
                miner = self.rng.choice(self.members)
                self.say(f"tie at height {heights.pop()}: one more block on {miner}; tips "
                         + ", ".join(f"{m}: {t[0][:8]}/{h(t[1])[:8]}" for m, t in zip(self.members, tips)))
                self.stats["ties broken"] += 1
                before = before or self.native_tips()
                self.mine(miner, 1)
                continue
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreement after {timeout}s: {tips}, heights "
                                     f"{[m.node.getblockcount() for m in self.members]}")
            time.sleep(0.1)

    def native_tips(self):
        return {m.index: (m.node.getbestblockhash(), m.node.getblockcount()) for m in self.members}

    def count_reorgs(self, before):
        """The nodes whose tip in `before` left the best chain: a reorg each, with its depth."""
        for m in self.members:
            tip, height = before[m.index]
            if m.node.getblockhash(height) == tip:
                continue
            fork = height
            while m.node.getblockhash(fork) != self.native_ancestor(m, tip, fork):
                fork -= 1
            self.reorg_depths.append(height - fork)
            self.stats["reorgs"] += 1
            self.say(f"{m} reorged: depth {height - fork}")

    def check(self):
        """The same tips, the invariant on every node, the same balances of a sample."""
        native_tip, meta_tip = self.converge()
        height = self.members[0].node.getblockcount()
        for m in self.members:
            info = assert_invariant(m.node)
            assert h(info["hash"]) == h(m.node.getblock(native_tip)["metablockhash"]), (m, info)
            block = m.eth("eth_getBlockByNumber", hex(height), False)
            assert h(block["hash"]) == h(meta_tip), (m, block["hash"], meta_tip)
        sample = self.rng.sample(self.accounts(), 6)
        holders = self.rng.sample([k.address for k in self.keys] + self.sinks, 4)
        seen = {}
        for m in self.members:
            balances = tuple(int(m.eth("eth_getBalance", a, hex(height)), 16) for a in sample)
            tokens = tuple(self.token_balance(m, a, hex(height)) for a in holders)
            via_defid = int(m.node.getmetabalance(sample[0])["wei"])
            assert via_defid == balances[0], (m, sample[0], via_defid, balances[0])
            seen[m.index] = (balances, tokens)
        assert len(set(seen.values())) == 1, f"balances differ at height {height}: {seen}"
        self.stats["checks"] += 1
        return height

    def observe(self, m):
        """Notes, on `m`, the blocks that hold the txs sent so far."""
        for s in self.sent:
            if s.status == "refused":
                continue
            where = self.where(m, s)
            if where:
                if not s.seen:
                    self.stats["txs seen mined"] += 1
                s.seen.setdefault(*where)

    def check_kept(self):
        """A tx a node accepted and that is not mined yet is still known to that node (in its
        pool: the pools are on disk, so kills and restarts keep it), unless its nonce is used
        on that node's chain or another of our txs at that nonce is in its pool or chain."""
        for s in self.sent:
            if s.status != "accepted" or self.where(self.members[0], s):
                continue
            m = self.members[s.node]
            if self.known(m, s):
                self.stats["kept unmined"] += 1
                continue
            if s.nonce is not None:
                if s.kind == "withdrawal":
                    used = m.node.getmetabalance(s.sender)["nonce"]
                else:
                    used = int(m.eth("eth_getTransactionCount", s.sender, "latest"), 16)
                if used > s.nonce:
                    continue
                evm = s.kind != "withdrawal"  # withdrawals and EVM txs count their nonces apart here
                rivals = [o for o in self.sent if o is not s and o.status != "refused" and o.sender == s.sender
                          and o.nonce == s.nonce and (o.kind != "withdrawal") == evm]
                if any(self.known(m, o) for o in rivals):
                    continue
            raise AssertionError(f"lost: {s} was accepted by {m} and is neither mined, nor in its pool, "
                                 f"nor superseded there")
        self.stats["pool checks"] += 1

    def known(self, m, s):
        if s.native:
            try:
                m.node.getrawtransaction(s.native)
                return True
            except RPCError:
                return False
        return bool(m.eth("eth_getTransactionByHash", s.hash))

    def where(self, m, s):
        """(block hash, height) of `s` on m's chain, or None."""
        if s.native:
            try:
                t = m.node.getrawtransaction(s.native, True)
            except RPCError:
                return None
            return (t["blockhash"], t["blockheight"]) if t.get("blockhash") else None
        r = m.eth("eth_getTransactionReceipt", s.hash)
        return (h(r["blockHash"]), int(r["blockNumber"], 16)) if r else None

    # ---- the rounds ----

    def kill_somewhere(self, group):
        """kill -9 a random process of `group` at a random moment, then restarts it."""
        m = self.rng.choice(group)
        what = "metachaind" if m.server is not None and self.rng.random() < 0.5 else "defid"
        moment = self.rng.choice(["mining", "after a send", "block arrival"])
        label = f"{what} of {m}" if what == "metachaind" else f"{m}'s defid"
        self.stats[f"kills: {what} ({m.mode})"] += 1
        self.stats["kills"] += 1
        if moment == "after a send":
            if m.healthy:
                self.send_one(m)
            self.kill(m, what)
        elif moment == "mining":
            miners = [x for x in group if x.healthy]
            miner, n, delay = self.rng.choice(miners), self.rng.randint(1, 3), self.rng.uniform(0, 0.4)
            timer = threading.Timer(delay, self.kill, (m, what))
            timer.start()
            try:
                self.mine(miner, n)
            except GONE + SEND_ERRORS as e:
                self.say(f"mining on {miner} cut by the kill: {str(e)[:100]}")
            timer.join()
            moment += f" {n} on {miner} (+{delay:.2f}s)"
        else:
            peers = [self.members[j if i == m.index else i] for i, j in self.links() if m.index in (i, j)]
            peers = [p for p in peers if p.healthy] or [x for x in group if x.healthy and x is not m] or [m]
            miner, delay = self.rng.choice(peers), self.rng.uniform(0, 0.08)
            self.mine(miner, 1)
            time.sleep(delay)
            self.kill(m, what)
            moment += f" from {miner} (+{delay:.2f}s)"
        self.say(f"kill -9 {label} ({moment})")
        self.reap(m, what)
        self.restart_dead()
        self.reconnect()

    def partition(self, with_kill):
        split = self.rng.choice([((0, 1), (2, 3)), ((1, 2), (3, 0)), ((0,), (1, 2, 3)), ((1,), (2, 3, 0)),
                                 ((2,), (3, 0, 1)), ((3,), (0, 1, 2))])
        sides = [[self.members[i] for i in side] for side in split]
        self.cut = {(i, j) for i, j in RING if (i in split[0]) != (j in split[0])}
        for i, j in sorted(self.cut):
            try:
                self.members[i].node.disconnectnode(f"127.0.0.1:{self.members[j].node.p2pport}")
            except RPCError:
                pass  # not connected
        self.reconnect()
        self.stats["partitions"] += 1
        counts = self.rng.sample([1, 2, 3], 2)
        self.say(f"partition {split[0]} | {split[1]}: {counts[0]} and {counts[1]} blocks")
        when = self.rng.choice(["in a side", "at the heal"]) if with_kill else None
        kill_side = self.rng.randrange(2) if when == "in a side" else None
        for side, count, n in zip(sides, counts, range(2)):
            self.send_some(side, self.rng.randint(2, 4))
            if n == kill_side:
                self.kill_somewhere(side)
            miners = [x for x in side if x.healthy]
            self.mine(self.rng.choice(miners), count)
        for side in sides:  # each side's view before the heal: txs mined on a branch that may lose
            wait_until(lambda: len({x.node.getbestblockhash() for x in side}) == 1, timeout=60,
                       what=f"side {side} in agreement")
            self.observe(side[0])
        before = self.native_tips()
        self.cut = set()
        if when == "at the heal":
            # A node of the shorter side dies while it reorgs to the other side's branch.
            m = self.rng.choice(sides[0] if counts[0] < counts[1] else sides[1])
            what = "metachaind" if m.server is not None and self.rng.random() < 0.5 else "defid"
            delay = self.rng.uniform(0, 0.3)
            self.stats[f"kills: {what} ({m.mode})"] += 1
            self.stats["kills"] += 1
            timer = threading.Timer(delay, self.kill, (m, what))
            timer.start()
            for i, j in self.links():
                try:
                    if not self.linked(i, j):
                        self.members[i].node.addnode(f"127.0.0.1:{self.members[j].node.p2pport}", "onetry")
                except GONE + SEND_ERRORS:
                    pass  # the victim already died: reconnect() dials again after its restart
            timer.join()
            self.say(f"kill -9 {what} of {m} at the heal (+{delay:.2f}s), from height {before[m.index][1]}")
            self.reap(m, what)
            self.restart_dead()
        self.reconnect()
        self.converge(before=before)

    def native_ancestor(self, m, tip, height):
        """The hash of `tip`'s ancestor at `height` (m knows the branch: it was on it)."""
        b = m.node.getblock(tip)
        while b["height"] > height:
            b = m.node.getblock(b["previousblockhash"])
        return b["hash"]

    def run_round(self, kill, partition):
        started = time.monotonic()
        self.send_some(self.members, self.rng.randint(4, 8))
        miner = self.rng.choice([m for m in self.members if m.healthy])
        self.mine(miner, self.rng.randint(1, 2))
        if partition:
            self.partition(kill)
        elif kill:
            self.kill_somewhere(self.members)
        self.restart_dead()
        self.reconnect()
        height = self.check()
        self.observe(self.members[0])
        self.check_kept()
        self.stats["rounds"] += 1
        took = time.monotonic() - started
        self.say(f"round done in {took:.1f}s: height {height}, "
                 f"{sum(1 for s in self.sent if s.seen)}/{len(self.sent)} txs seen mined")

    def drain(self):
        """Every node mines (each pool gets its turn), twice."""
        for _ in range(2):
            for m in self.members:
                self.mine(m, 1)
                self.converge()
        self.observe(self.members[0])

    def final_check(self):
        """No tx lost: see the module's docstring."""
        ref = self.members[0]
        best = {}

        def on_best(s, block, height):
            if s.native:
                return ref.node.getblockhash(height) == block
            if height not in best:
                best[height] = h(ref.eth("eth_getBlockByNumber", hex(height), False)["hash"])
            return best[height] == block

        for s in self.sent:
            if s.status == "refused":
                continue
            wheres = [self.where(m, s) for m in self.members]
            assert len(set(wheres)) == 1, f"nodes disagree on {s}: {wheres}"
            now = wheres[0]
            stayed = [b for b, height in s.seen.items() if on_best(s, b, height)]
            if stayed:
                assert now == (stayed[0], s.seen[stayed[0]]), f"lost: {s} was mined in {stayed[0]}, now {now}"
                # Seen also in a block that left the best chain: back to a pool, mined again.
                self.stats["final: re-mined after a reorg" if len(s.seen) > 1 else "final: mined where seen"] += 1
                if s.kind == "deposit":  # its system tx's receipt too
                    assert all(m.eth("eth_getTransactionReceipt", s.hash) for m in self.members), s
                continue
            if now:
                self.stats["final: re-mined after a reorg" if s.seen else "final: mined at the drain"] += 1
                continue
            # Neither: only legitimate if another tx took its nonce (a same-nonce tx across a
            # partition or a relay race) -- or its node's answer was cut by a kill.
            if s.status == "uncertain":
                self.stats["final: uncertain, not mined"] += 1
                continue
            assert s.sender and s.nonce is not None, f"lost: {s}"
            if s.kind == "withdrawal":
                nonce = ref.node.getmetabalance(s.sender)["nonce"]
            else:
                nonce = int(ref.eth("eth_getTransactionCount", s.sender, "latest"), 16)
            assert nonce > s.nonce, f"lost: {s} is not mined and its nonce {s.nonce} is unused ({nonce})"
            self.stats["final: superseded at its nonce" + (" after a reorg" if s.seen else "")] += 1
            self.superseded.append(s)


@pytest.fixture
def chaos(defid_bin, metachaind_bin, tmp_path):
    c = Chaos(defid_bin, metachaind_bin, tmp_path)
    yield c
    c.stop()


def test_chaos(chaos, tmp_path, capsys):
    c = chaos
    print(f"\nchaos seed {SEED} (CHAOS_SEED={SEED} reproduces it), {ROUNDS} rounds, data in {tmp_path}")
    c.clients()
    c.start()
    c.setup_chain()
    c.check()
    c.say("setup done")
    rng = c.rng
    kills = set(rng.sample(range(ROUNDS), (ROUNDS * 3 + 4) // 5))
    partitions = set(rng.sample(range(ROUNDS), (ROUNDS * 2 + 4) // 5))
    try:
        for r in range(ROUNDS):
            c.round = r + 1
            c.run_round(r in kills, r in partitions)
        c.round = ROUNDS + 1
        c.drain()
        c.check()
        c.final_check()
    except BaseException as e:
        raise AssertionError(f"chaos seed {SEED}, round {c.round}: {e}") from e
    wall = time.monotonic() - c.t0
    st = c.stats
    accepted = st["accepted txs"] + st["uncertain txs"]
    lines = [
        f"chaos seed {SEED}: {st['rounds']} rounds in {wall:.1f}s, height {c.members[0].node.getblockcount()}",
        f"  kills {st['kills']}: " + ", ".join(f"{k[7:]} {v}" for k, v in sorted(st.items())
                                              if k.startswith("kills: ")),
        f"  defid exits on a dead metachaind {st['defid exits on a dead metachaind']}, "
        f"defid killed after its metachaind {st['defid killed after its metachaind']}, restarts {st['restarts']}",
        f"  partitions {st['partitions']}, ties broken {st['ties broken']}, reorgs {st['reorgs']} "
        f"(depths {sorted(c.reorg_depths)})",
        f"  txs sent {len(c.sent)}: " + ", ".join(f"{k[5:]} {v}" for k, v in sorted(st.items())
                                                 if k.startswith("sent ")),
        f"  accepted {st['accepted txs']}, refused {st['refused txs']}, uncertain {st['uncertain txs']}; "
        f"seen mined {st['txs seen mined']}",
        "  at the end: " + ", ".join(f"{k[7:]} {v}" for k, v in sorted(st.items()) if k.startswith("final: ")),
        f"  blocks mined {st['blocks mined']}, checks {st['checks']}; unmined txs found in the pool of the node "
        f"that took them, at a round's end: {st['kept unmined']}",
    ]
    for s in c.superseded:
        lines.append(f"  superseded: {s.kind} {s.hash[:12]} of {s.sender[:8]} nonce {s.nonce} sent to node{s.node} "
                     f"in round {s.round} via {s.via or 'defid'}, seen mined in {len(s.seen)} block(s); "
                     + "; ".join(f"also {o.kind} {o.hash[:12]} node{o.node} round {o.round} {o.status} "
                                 f"seen {len(o.seen)}" for o in c.sent
                                 if o is not s and o.sender == s.sender and o.nonce == s.nonce))
    print("\n" + "\n".join(lines))
    with capsys.disabled():  # the figures, in a normal suite run too
        print("\n" + "\n".join(lines[:8]))
    assert st["rounds"] == ROUNDS
    assert st["kills"] >= 1 and accepted > 0
    if st["partitions"]:
        assert st["reorgs"] >= 1, "partitions but no reorg"


def test_a_block_stored_when_the_metachain_failed_is_connected_at_restart(defid_bin, metachaind_bin, tmp_path):
    """Found by the chaos test: b stores a block from a, then finds its metachaind gone
    and exits (with the reason) before connecting it. Restarted alone, b must connect the
    block it stored: no peer would send it again, and nothing asks for a block already
    stored, so before the fix b stayed one block behind until a newer block came."""
    server = Metachaind(metachaind_bin, str(tmp_path / "metachaind")).start()
    a = TestNode(defid_bin, str(tmp_path / "a"), ["-listen=1", "-noconnect", "-meta"]).start().wait_for_rpc()
    b_args = ["-listen=1", "-noconnect"]
    b = TestNode(defid_bin, str(tmp_path / "b"), b_args + server.defid_args("grpc")).start().wait_for_rpc()
    try:
        b.addnode(f"127.0.0.1:{a.p2pport}", "onetry")
        wait_until(lambda: a.getconnectioncount() == 1 and b.getconnectioncount() == 1, what="a and b connected")
        addr = a.getnewaddress()
        a.generatetoaddress(2, addr)
        wait_until(lambda: b.getbestblockhash() == a.getbestblockhash(), what="b at a's tip")
        before = b.getbestblockhash()
        server.kill()
        [stored] = a.generatetoaddress(1, addr)
        assert b.wait_for_exit() == 1
        assert f"metachain failed connecting block {stored}" in b.stderr, b.stderr
        server.start()
        b.extra_args = b_args + server.defid_args("grpc")
        b.start().wait_for_rpc()
        assert b.getconnectioncount() == 0
        assert b.getbestblockhash() == stored != before, b.debug_log
        assert "connected stored blocks: tip height 3" in b.debug_log
        info = assert_invariant(b)
        assert info["hash"] == a.getmetachaininfo()["hash"]
    finally:
        a.kill()
        b.kill()
        server.stop()


def test_a_withdrawal_whose_nonce_another_branch_used_leaves_the_mempool(defid_bin, tmp_path):
    """Found by the chaos test: across a partition, a and b each mine a withdrawal of one
    meta account at nonce 0; b's branch wins. a's withdrawal comes back to a's mempool
    though its nonce is used: it can never be mined, and before the fix it stayed there
    (until a mined a block itself), pushing the account's next withdrawal nonce on a
    (committed nonce + pooled withdrawals) to 2, so the real next one (nonce 1) was refused
    with "withdrawal signature is by ..., not ..."."""
    args = ["-listen=1", "-noconnect", "-meta"]
    a = TestNode(defid_bin, str(tmp_path / "a"), args).start().wait_for_rpc()
    b = TestNode(defid_bin, str(tmp_path / "b"), args).start().wait_for_rpc()
    try:
        def link():
            a.addnode(f"127.0.0.1:{b.p2pport}", "onetry")
            wait_until(lambda: a.getconnectioncount() == 1 and b.getconnectioncount() == 1, what="a-b link")
        link()
        addr_a, addr_b = a.getnewaddress(), b.getnewaddress()
        a.generatetoaddress(2, addr_a)
        key = MetaKey(0x57A1E)
        a.deposittometachain(addr_a, key.address, 10)
        a.generatetoaddress(1, addr_a)
        wait_until(lambda: b.getbestblockhash() == a.getbestblockhash(), what="b at a's tip")
        a.disconnectnode(f"127.0.0.1:{b.p2pport}")
        wait_until(lambda: a.getconnectioncount() == 0 and b.getconnectioncount() == 0, what="the partition")
        lost = a.withdrawfrommetachain(key.address, addr_a, D(1), key.sign_withdrawal(addr_a, units(1), 0).hex())
        b.withdrawfrommetachain(key.address, addr_b, D(2), key.sign_withdrawal(addr_b, units(2), 0).hex())
        a.generatetoaddress(1, addr_a)
        b.generatetoaddress(2, addr_b)
        link()
        wait_until(lambda: a.getbestblockhash() == b.getbestblockhash(), what="the heal")
        assert a.getmetabalance(key.address)["nonce"] == 1
        wait_until(lambda: lost not in a.getrawmempool(), timeout=10, what="the used withdrawal out of a's mempool")
        assert f"mempool: dropping withdrawal {lost}: its meta nonce is used" in a.debug_log
        nxt = a.withdrawfrommetachain(key.address, addr_a, D(1), key.sign_withdrawal(addr_a, units(1), 1).hex())
        a.generatetoaddress(1, addr_a)
        assert a.getrawtransaction(nxt, True)["blockhash"] == a.getbestblockhash()
        assert a.getmetabalance(key.address)["nonce"] == 2
        assert_invariant(a)
    finally:
        a.kill()
        b.kill()
