#!/usr/bin/env python3
"""Ethereum JSON-RPC benchmark against anvil (issue 19), printed by `./make.sh bench`.
Not a test: it prints figures and ratios within one run and asserts nothing about time.

The same client (Python's http.client, one kept-alive HTTP/1.1 connection, JSON-RPC
2.0) and the same workload against

- ours: `defid -regtest -meta="--rpc-addr=127.0.0.1:<port>"`, the embedded metachain
  serving eth_*; keys funded by `deposittometachain`, blocks mined by `generatetoaddress`;
- anvil (Foundry 1.7.1, tools/foundry, installed here by `npm ci` from its lock):
  `anvil --no-mining`, keys funded by its prefunded dev key, blocks mined by `evm_mine`.

Run one chain after the other (the other one stopped):
1. deploy the ERC-20 test/contracts/Token.sol (a signed raw tx, eth-account) and give
   each sender tokens (setup, not timed);
2. latency: N sequential calls each (default 2,000, after 100 warm-up calls) of
   eth_blockNumber, eth_getBalance and eth_call (Token.balanceOf): p50, p99;
3. throughput: M pre-signed ERC-20 transfers (default 2,000; `--senders` keys, round
   robin, increasing nonces, as ours keeps at most 64 pending txs per sender) sent one
   after the other with eth_sendRawTransaction: accepted tx/s; then blocks are mined one
   at a time until every tx is in one, and every receipt is read (status 1): the time
   from the first mining call until the last receipt.

    test/bench/eth_bench.py [--defid build/defid] [--anvil tools/foundry/.../anvil]
                            [--calls 2000] [--txs 2000] [--senders 40] [--tmpdir /dev/shm] [--keep]

Targets (issue 19): p50 latency <= anvil's, throughput >= anvil's."""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

from eth_account import Account
from eth_utils import keccak, to_checksum_address

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "functional"))

from framework import contracts  # noqa: E402
from framework.test_node import TestNode, free_port  # noqa: E402
from framework.util import wait_until  # noqa: E402
from bench_rpc import Client, RpcError, hx, percentile  # noqa: E402

FOUNDRY_DIR = os.path.join(ROOT, "tools", "foundry")
ANVIL_BIN = os.path.join(FOUNDRY_DIR, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
GWEI = 10**9
TRANSFER_GAS = 60_000  # Token.transfer to a fresh holder uses ~51,500
MAX_FEE, TIP = 100 * GWEI, 1 * GWEI


def install_foundry():
    """npm ci in tools/foundry when node_modules is missing or the lock changed (its
    sha256 kept in node_modules/.lock.sha256), as make.sh does for test/contracts."""
    lock = os.path.join(FOUNDRY_DIR, "package-lock.json")
    stamp = os.path.join(FOUNDRY_DIR, "node_modules", ".lock.sha256")
    want = hashlib.sha256(open(lock, "rb").read()).hexdigest()
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if not os.path.exists(ANVIL_BIN) or have != want:
        print("installing Foundry's anvil and cast: npm ci in tools/foundry", flush=True)
        subprocess.run(["npm", "ci", "--prefix", FOUNDRY_DIR, "--no-audit", "--no-fund", "--loglevel=error"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(stamp, "w") as f:
            f.write(want + "\n")


class Chain:
    """What differs between the two nodes: start, fund keys, mine a block, stop."""
    name = ""
    url = ""

    def start(self):
        raise NotImplementedError

    def fund(self, accounts, wei_each):
        raise NotImplementedError

    def mine(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError


class Ours(Chain):
    name = "ours"

    def __init__(self, defid, tmp):
        self.defid = defid
        self.tmp = tmp
        self.node = None

    def start(self):
        port = free_port()
        self.node = TestNode(self.defid, os.path.join(self.tmp, "defid"),
                             [f"-meta=--rpc-addr=127.0.0.1:{port}", "-noconnect", "-listen=0"])
        self.node.start().wait_for_rpc(timeout=60)
        self.node.wait_for_log("embedded metachain serving", timeout=30)
        self.url = f"http://127.0.0.1:{port}"
        self.addr = self.node.getnewaddress()
        self.node.generatetoaddress(3, self.addr)  # 150 coins to deposit
        return self

    def fund(self, accounts, wei_each):
        coins = f"{wei_each / 10**18:.8f}"
        for a in accounts:
            self.node.deposittometachain(self.addr, a.address, coins)
        self.mine()

    def mine(self):
        self.node.generatetoaddress(1, self.addr)

    def stop(self):
        if self.node:
            self.node.stop_process(timeout=120)


class Anvil(Chain):
    name = "anvil"

    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        self.proc = None
        self.dev = Account.from_key(ANVIL_DEV_KEY)

    def start(self):
        port = free_port()
        self.log = open(os.path.join(self.tmp, "anvil.log"), "w")
        self.proc = subprocess.Popen([self.binary, "--host", "127.0.0.1", "--port", str(port), "--quiet",
                                      "--no-mining"], stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.proc.returncode}: see {self.log.name}")
            try:
                Client(self.url).call("eth_chainId")
                return True
            except OSError:
                return False
        wait_until(up, timeout=60, what="anvil's RPC")
        return self

    def fund(self, accounts, wei_each):
        c = Client(self.url)
        chain_id = int(c.call("eth_chainId"), 16)
        nonce = int(c.call("eth_getTransactionCount", self.dev.address, "pending"), 16)
        for i, a in enumerate(accounts):
            tx = {"type": 2, "chainId": chain_id, "nonce": nonce + i, "to": a.address, "value": wei_each,
                  "gas": 21_000, "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP}
            c.call("eth_sendRawTransaction", hx(self.dev.sign_transaction(tx).raw_transaction))
        self.mine()
        c.close()

    def mine(self):
        Client(self.url).call("evm_mine")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_receipt(c, chain, txhash, blocks=3):
    for _ in range(blocks):
        r = c.call("eth_getTransactionReceipt", txhash)
        if r:
            return r
        chain.mine()
    raise RuntimeError(f"{chain.name}: no receipt for {txhash}")


def run(chain, args):
    """Setup, latencies, throughput on one started chain; returns the figures."""
    token = contracts.load("Token")
    c = Client(chain.url)
    chain_id = int(c.call("eth_chainId"), 16)
    deployer = Account.from_key(keccak(text="eth_bench deployer"))
    senders = [Account.from_key(keccak(text=f"eth_bench sender {i}")) for i in range(args.senders)]
    chain.fund([deployer] + senders, 10**18)

    def sign(acct, nonce, to, data, gas):
        tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "gas": gas, "maxFeePerGas": MAX_FEE,
              "maxPriorityFeePerGas": TIP, "value": 0, "data": data}
        if to:
            tx["to"] = to
        return hx(acct.sign_transaction(tx).raw_transaction)

    # 1. Setup: the token, and tokens for every sender.
    supply = 10**27
    h = c.call("eth_sendRawTransaction", sign(deployer, 0, None, token.deploy_data("Bench", "BEN", supply), 3_000_000))
    chain.mine()
    receipt = wait_receipt(c, chain, h)
    if receipt["status"] != "0x1":
        raise RuntimeError(f"{chain.name}: the Token deployment failed: {receipt}")
    addr = to_checksum_address(receipt["contractAddress"])
    for i, s in enumerate(senders):
        last = c.call("eth_sendRawTransaction", sign(deployer, 1 + i, addr,
                                                     token.encode_call("transfer", s.address, 10**24), TRANSFER_GAS))
    chain.mine()
    wait_receipt(c, chain, last)
    balance_call = {"to": addr, "data": "0x" + token.encode_call("balanceOf", senders[-1].address).hex()}
    got = int(c.call("eth_call", balance_call, "latest"), 16)
    if got != 10**24:
        raise RuntimeError(f"{chain.name}: sender balance {got}, expected 10^24")

    # 2. Latency.
    lat = {}
    calls = {
        "eth_blockNumber": (),
        "eth_getBalance": (deployer.address, "latest"),
        "eth_call": (balance_call, "latest"),
    }
    for method, params in calls.items():
        for _ in range(100):
            c.call(method, *params)
        ms = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            c.call(method, *params)
            ms.append((time.perf_counter() - t0) * 1000)
        ms.sort()
        lat[method] = (percentile(ms, 50), percentile(ms, 99))

    # 3. Throughput: pre-signed transfers, round robin over the senders.
    raws, hashes = [], []
    for i in range(args.txs):
        s, nonce = senders[i % len(senders)], i // len(senders)
        to = to_checksum_address(keccak(text=f"eth_bench holder {i}")[12:])
        signed = s.sign_transaction({"type": 2, "chainId": chain_id, "nonce": nonce, "gas": TRANSFER_GAS,
                                     "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP, "value": 0, "to": addr,
                                     "data": token.encode_call("transfer", to, 1)})
        raws.append(hx(signed.raw_transaction))
        hashes.append(hx(signed.hash))
    t0 = time.perf_counter()
    for raw, want in zip(raws, hashes):
        got = c.call("eth_sendRawTransaction", raw)
        if got.lower() != want.lower():
            raise RuntimeError(f"{chain.name}: eth_sendRawTransaction returned {got}, expected {want}")
    send_s = time.perf_counter() - t0

    pending = {x.lower() for x in hashes}
    blocks = 0
    t0 = time.perf_counter()
    while pending:
        if blocks >= 10 + 4 * args.txs // 500:
            raise RuntimeError(f"{chain.name}: {len(pending)} txs still not mined after {blocks} blocks")
        chain.mine()
        blocks += 1
        block = c.call("eth_getBlockByNumber", "latest", False)
        pending -= {x.lower() for x in block["transactions"]}
    mined_s = time.perf_counter() - t0
    gas = 0
    for x in hashes:
        r = c.call("eth_getTransactionReceipt", x)
        if not r or r["status"] != "0x1":
            raise RuntimeError(f"{chain.name}: tx {x} not mined or failed: {r}")
        gas += int(r["gasUsed"], 16)
    receipts_s = time.perf_counter() - t0
    holder = to_checksum_address(keccak(text=f"eth_bench holder {args.txs - 1}")[12:])
    got = int(c.call("eth_call", {"to": addr, "data": "0x" + token.encode_call("balanceOf", holder).hex()},
                     "latest"), 16)
    if got != 1:
        raise RuntimeError(f"{chain.name}: the last holder has {got} tokens, expected 1")
    c.close()
    return {"lat": lat, "send_s": send_s, "mined_s": mined_s, "receipts_s": receipts_s, "blocks": blocks,
            "gas_per_tx": gas // len(hashes)}


def report(ours, anvil, args):
    print()
    print(f"{'':32s} {'ours':>10s} {'anvil':>10s} {'ours/anvil':>11s}  target")
    met = []

    def row(label, a, b, lower_is_better):
        ratio = a / b if b else float("inf")
        ok = a <= b if lower_is_better else a >= b
        target = ("<= anvil" if lower_is_better else ">= anvil") + (": met" if ok else ": NOT met")
        print(f"{label:32s} {a:10.3f} {b:10.3f} {ratio:10.2f}x  {target}")
        met.append((label, ok))

    def info(label, a, b, fmt="{:10.3f}"):
        ratio = a / b if b else float("inf")
        print(f"{label:32s} {fmt.format(a)} {fmt.format(b)} {ratio:10.2f}x")

    for m in ("eth_blockNumber", "eth_getBalance", "eth_call"):
        row(f"{m} p50 ms", ours["lat"][m][0], anvil["lat"][m][0], True)
        info(f"{m} p99 ms", ours["lat"][m][1], anvil["lat"][m][1])
    n = args.txs
    row("sendRawTransaction accepted tx/s", n / ours["send_s"], n / anvil["send_s"], False)
    info("  (send time, s)", ours["send_s"], anvil["send_s"])
    info("blocks to mine the transfers", ours["blocks"], anvil["blocks"], "{:10d}")
    info("  mined, s", ours["mined_s"], anvil["mined_s"])
    info("  then all receipts read, s", ours["receipts_s"] - ours["mined_s"], anvil["receipts_s"] - anvil["mined_s"])
    row("mined tx/s (to the last receipt)", n / ours["receipts_s"], n / anvil["receipts_s"], False)
    info("gas per transfer", ours["gas_per_tx"], anvil["gas_per_tx"], "{:10d}")
    missed = [label.strip() for label, ok in met if not ok]
    print(f"targets: {len(met) - len(missed)}/{len(met)} met" + (f"; not met: {', '.join(missed)}" if missed else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--defid", default=os.environ.get("DEFID", os.path.join(ROOT, "build", "defid")))
    p.add_argument("--metachaind", default=os.environ.get("METACHAIND", os.path.join(ROOT, "target/release/metachaind")),
                   help="unused: ours is defid's in-process metachain (-meta)")
    p.add_argument("--anvil", default=os.environ.get("ANVIL"),
                   help="the anvil binary (default: tools/foundry's, installed by npm ci when missing)")
    p.add_argument("--calls", type=int, default=2000, help="sequential calls per method for the latencies")
    p.add_argument("--txs", type=int, default=2000, help="ERC-20 transfers for the throughput")
    p.add_argument("--senders", type=int, default=40,
                   help="sending keys (ours keeps at most 64 pending txs per sender)")
    p.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where defid's datadir goes (default /dev/shm: anvil keeps its state in memory)")
    p.add_argument("--keep", action="store_true", help="keep the datadir and logs")
    args = p.parse_args()
    if not os.path.exists(args.defid):
        sys.exit(f"{args.defid} not found: run ./make.sh build first")
    if -(-args.txs // args.senders) > 64:
        sys.exit(f"--senders {args.senders}: {args.txs} txs would put more than 64 in the pool per sender")
    if args.anvil is None:
        install_foundry()
        args.anvil = ANVIL_BIN

    tmp = tempfile.mkdtemp(prefix="eth_bench.", dir=args.tmpdir)
    results, rc = {}, 0
    print(f"eth JSON-RPC: ours (defid -regtest, embedded metachain) vs anvil; one kept-alive HTTP connection; "
          f"{args.calls} calls per method, {args.txs} ERC-20 transfers from {args.senders} senders", flush=True)
    try:
        for chain in (Ours(args.defid, tmp), Anvil(args.anvil, tmp)):
            try:
                chain.start()
                print(f"  {chain.name}: {chain.url} ({Client(chain.url).call('web3_clientVersion')})", flush=True)
                results[chain.name] = run(chain, args)
                r = results[chain.name]
                print(f"  {chain.name}: sent {args.txs} txs in {r['send_s']:.2f} s, mined in {r['blocks']} blocks, "
                      f"receipts after {r['receipts_s']:.2f} s", flush=True)
            finally:
                chain.stop()
        report(results["ours"], results["anvil"], args)
    except Exception:
        traceback.print_exc()
        rc = 1
    finally:
        if args.keep:
            print(f"datadir and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
