"""The native chain end to end: mining, transfers and fees, persistence
across restart and kill -9, two nodes via submitblock, reorgs, the RPC
conventions and defi-cli."""
import base64
import json
import os
import signal
import subprocess
import threading
import time
from decimal import Decimal

import pytest
import requests

from framework.test_node import RPCError, TestNode

REWARD = Decimal("50")
FEE = Decimal("0.0001")


@pytest.fixture
def node(defid_bin, tmp_path):
    n = TestNode(defid_bin, str(tmp_path / "n0")).start().wait_for_rpc()
    yield n
    n.kill()


def D(x):
    return Decimal(str(x))


def test_mine_send_and_fees(node):
    miner, alice = node.getnewaddress(), node.getnewaddress()
    assert node.generatetoaddress(3, miner) and node.getblockcount() == 3
    txid = node.sendtoaddress(alice, 12.5)
    assert node.getrawmempool() == [txid]
    assert node.gettransaction(txid)["confirmations"] == 0
    other = node.getnewaddress()
    node.generatetoaddress(1, other)
    assert node.getrawmempool() == []
    tx = node.gettransaction(txid)
    assert tx["confirmations"] == 1 and D(tx["fee"]) == FEE and D(tx["amount"]) == D("12.5")
    assert D(node.getaddressbalance(alice)["balance"]) == D("12.5")
    # The fee went to the block's miner with the reward.
    assert D(node.getaddressbalance(other)["balance"]) == REWARD + FEE
    assert D(node.getaddressbalance(miner)["balance"]) == 3 * REWARD - D("12.5") - FEE
    assert D(node.getbalance()) == 4 * REWARD
    block = node.getblock(node.getbestblockhash(), 2)
    assert [t["type"] for t in block["tx"]] == ["coinbase", "transfer"]
    assert node.getblock(node.getbestblockhash(), 0) == node.getblock(node.getbestblockhash(), 0)
    info = node.getblockchaininfo()
    assert info["chain"] == "regtest" and info["blocks"] == 4


def test_restart_keeps_chain_wallet_and_balances(node):
    addr = node.getnewaddress()
    node.generatetoaddress(5, addr)
    tip, balance = node.getbestblockhash(), node.getbalance()
    assert node.stop_process() == 0
    node.start().wait_for_rpc()
    assert node.getbestblockhash() == tip
    assert node.getbalance() == balance
    node.generatetoaddress(1, addr)
    assert D(node.getbalance()) == D(balance) + REWARD


def test_pending_txs_survive_kill_9(node):
    miner, alice = node.getnewaddress(), node.getnewaddress()
    node.generatetoaddress(2, miner)
    txids = {node.sendtoaddress(alice, 1), node.sendtoaddress(alice, 2)}
    raw = {t: node.getrawtransaction(t) for t in txids}
    node.kill()  # SIGKILL
    node.start().wait_for_rpc()
    assert set(node.getrawmempool()) == txids
    assert {t: node.getrawtransaction(t) for t in txids} == raw, "reloaded byte for byte"
    assert "mempool: reloaded 2 of 2 stored tx(s)" in node.debug_log
    node.generatetoaddress(1, miner)
    assert node.getrawmempool() == []
    assert D(node.getaddressbalance(alice)["balance"]) == 3
    # Mined txs are not reloaded by the next start.
    assert node.stop_process() == 0
    node.start().wait_for_rpc()
    assert node.getrawmempool() == []


def test_sigterm_during_startup_still_stops_cleanly(defid_bin, tmp_path):
    # The embedded metachain makes startup long enough to land in it.
    n = TestNode(defid_bin, str(tmp_path / "n0"), extra_args=["-meta"]).start()
    while "starting" not in n.debug_log:
        time.sleep(0.001)
    n.process.send_signal(signal.SIGTERM)
    assert n.process.wait(timeout=30) == 0
    assert "shutdown complete" in n.debug_log


def test_kill_9_then_restart_is_consistent(node):
    addr = node.getnewaddress()
    node.generatetoaddress(2, addr)
    # Kill while blocks are being mined.
    proc = node.cli("generatetoaddress", "200", addr, wait=False)
    time.sleep(0.3)
    node.process.send_signal(signal.SIGKILL)
    node.process.wait()
    proc.wait()
    node.start().wait_for_rpc()
    height = node.getblockcount()
    assert height >= 2
    # Every block on the chain is whole: balances sum to the rewards.
    assert D(node.getaddressbalance(addr)["balance"]) == height * REWARD
    assert node.getblock(node.getbestblockhash())["height"] == height


def test_two_nodes_via_submitblock(defid_bin, tmp_path, node):
    other = TestNode(defid_bin, str(tmp_path / "n1")).start().wait_for_rpc()
    try:
        addr = node.getnewaddress()
        hashes = node.generatetoaddress(3, addr)
        for h in hashes:
            assert other.submitblock(node.getblock(h, 0)) is None
        assert other.getbestblockhash() == node.getbestblockhash()
        assert other.getaddressbalance(addr) == node.getaddressbalance(addr)
        assert other.submitblock(node.getblock(hashes[0], 0)) == "duplicate"
        # A tampered block is refused with its reason and changes nothing.
        tip_before = other.getbestblockhash()
        node.generatetoaddress(1, addr)
        raw = bytearray.fromhex(node.getblock(node.getbestblockhash(), 0))
        raw[4 + 4 + 32 + 4 + 8] ^= 1  # a byte of the header's merkle root
        assert other.submitblock(raw.hex()) in ("bad-txnmrklroot", "high-hash (proof of work failed)")
        assert other.getbestblockhash() == tip_before
        with pytest.raises(RPCError) as err:
            other.submitblock("zz")
        assert err.value.code == -22
        assert other.getbestblockhash() == tip_before
    finally:
        other.kill()


def test_reorg_via_invalidateblock_restores_balances(node):
    a, b = node.getnewaddress(), node.getnewaddress()
    node.generatetoaddress(2, a)
    node.sendtoaddress(b, 7)
    node.generatetoaddress(2, a)
    assert D(node.getaddressbalance(b)["balance"]) == 7
    h3 = node.getblockhash(3)
    tip = node.getbestblockhash()
    node.invalidateblock(h3)
    assert node.getblockcount() == 2
    assert D(node.getaddressbalance(b)["balance"]) == 0
    assert len(node.getrawmempool()) == 1  # the transfer is back in the mempool
    node.reconsiderblock(h3)
    assert node.getbestblockhash() == tip
    assert D(node.getaddressbalance(b)["balance"]) == 7
    with pytest.raises(RPCError) as err:
        node.invalidateblock("00" * 32)
    assert err.value.code == -5


def expect_error(node, code, method, *params):
    with pytest.raises(RPCError) as err:
        node.rpc(method, *params)
    assert err.value.code == code, err.value.message
    return err.value.message


def test_bad_rpc_input_gets_clear_errors_and_changes_nothing(node):
    addr = node.getnewaddress()
    node.generatetoaddress(1, addr)
    before = (node.getbestblockhash(), node.getbalance(), node.getrawmempool())
    assert expect_error(node, -3, "getblockhash", "one") == 'Expected integer for height, got string "one"'
    assert expect_error(node, -8, "getblockhash", 4294967296) == \
        "height out of range: 4294967296 (accepted: 0 to 2147483647)"
    assert "Invalid address" in expect_error(node, -5, "sendtoaddress", "dfrt1bogus", 1)
    # A meta (0x) address is not a native one.
    assert "Invalid address" in expect_error(node, -5, "sendtoaddress", "0x" + "11" * 20, 1)
    assert "out of range" in expect_error(node, -3, "sendtoaddress", addr, -1)
    expect_error(node, -3, "sendtoaddress", addr, 1e20)
    expect_error(node, -3, "sendtoaddress", addr, "0.000000001")
    expect_error(node, -6, "sendtoaddress", addr, 1000)
    expect_error(node, -8, "getblockhash", 99)
    expect_error(node, -32601, "nosuchmethod")
    assert "Missing required argument" in expect_error(node, -1, "getblockhash")
    expect_error(node, -1, "getblockcount", 1)
    r = node.post("{not json", raw=True)
    assert r.status_code == 500 and r.json()["error"]["code"] == -32700
    assert node.post({"method": "getblockcount"}, auth="__cookie__:wrong").status_code == 401
    assert node.post("x" * (5 << 20), raw=True).status_code == 413
    assert (node.getbestblockhash(), node.getbalance(), node.getrawmempool()) == before


def test_json_rpc_2_batches_named_params_and_help(node):
    r = node.post([{"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
                   {"jsonrpc": "2.0", "id": 2, "method": "nope"}]).json()
    assert r[0] == {"jsonrpc": "2.0", "id": 1, "result": 0}
    assert r[1]["error"]["code"] == -32601 and "result" not in r[1]
    r = node.post({"jsonrpc": "2.0", "id": 3, "method": "getblockhash", "params": {"height": 0}})
    assert r.status_code == 200 and len(r.json()["result"]) == 64
    listing = node.help()
    for cmd in ["getblockcount", "getblock", "sendtoaddress", "generatetoaddress", "submitblock", "stop"]:
        assert cmd in listing
    text = node.help("getblock")
    assert "1. blockhash (string, 64 hex digits, required)" in text
    assert "2. verbosity (integer, 0 to 2, optional)" in text
    # Every registered command is listed under its category, raw txs included.
    assert "== Rawtransactions ==\ndecoderawtransaction" in listing
    for cmd in node.getrpcschema()["methods"]:
        assert f"\n{cmd['name']}" in listing or listing.startswith(cmd["name"])
    assert node.help("nope") == "help: unknown command: nope"
    assert node.uptime() >= 0


def test_defi_cli(node):
    run = node.cli
    addr = run("getnewaddress").stdout.strip()
    out = run("generatetoaddress", "2", addr)
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 2
    assert run("getblockcount").stdout.strip() == "2"
    # Amounts keep bitcoind's 8 decimals, on the wire and in the CLI.
    assert run("getbalance").stdout.strip() == "100.00000000"
    wire = node.post({"jsonrpc": "2.0", "id": 1, "method": "getaddressbalance", "params": [addr]}).text
    assert '"balance":100.00000000' in wire
    assert '"balance": 100.00000000' in run("getaddressbalance", addr).stdout
    err = run("getblockhash", "99")
    assert err.returncode == 1 and "error code: -8" in err.stderr
    bad = node.cli("-rpcport=1", "getblockcount")  # the later -rpcport wins
    assert bad.returncode == 1 and "Could not connect" in bad.stderr


def test_defi_cli_never_aborts(node, tmp_path):
    """defi-cli answers any argument and any reply with a result or a clear
    error and exit code 1: never an abort."""
    from conftest import ROOT
    from http.server import BaseHTTPRequestHandler, HTTPServer
    cli = os.path.join(ROOT, "build", "defi-cli")
    addr = node.getnewaddress()
    node.generatetoaddress(1, addr)

    def run(*args, port=node.rpcport):
        return subprocess.run([cli, "-regtest", f"-datadir={node.datadir}", f"-rpcport={port}", *args],
                              capture_output=True, timeout=30)

    for args in (["sendtoaddress", addr, "1e400"], ["getblockhash", "1e400"], ["getblockhash", "-1e400"],
                 ["getblockhash", "[" * 40000], ["getblockhash", "18446744073709551616"],
                 ["sendtoaddress", "a\x01b", "1"], ["getmetablock", "\xff\xfe"], ["nosuchmethod"]):
        r = run(*args)
        assert r.returncode == 1, (args, r)
        assert r.stderr.startswith(b"error"), (args, r.stderr[:200])
    assert b"Amount out of range" in run("sendtoaddress", addr, "1e400").stderr
    assert run("getbalance").stdout.strip() == b"50.00000000"

    replies = [b"not json", b"[1,2]", b'{"result":1}', b'{"result":null,"error":"boom"}',
               b'{"result":null,"error":{"code":1e400}}', b'{"result":null,"error":{"code":"x","message":[1]}}',
               b'{"result":"a\xffb\x00c","error":null}', b"[" * 100000, b"",
               b'{"result":"a\\u0000b","error":null}']

    class Canned(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = replies[self.server.n]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Canned)
    try:
        for n, body in enumerate(replies):
            server.n = n
            t = threading.Thread(target=server.handle_request)
            t.start()
            r = run("-rpcuser=u", "-rpcpassword=p", "getblockcount", port=server.server_port)
            t.join(timeout=30)
            if body.startswith(b'{"result":"a\\u'):
                assert r.returncode == 0 and r.stdout == b"a\x00b\n", r
            else:
                assert r.returncode == 1 and r.stderr.startswith(b"error"), (body[:40], r)
    finally:
        server.server_close()


def test_stop_rpc_and_signals_exit_cleanly(node, defid_bin, tmp_path):
    assert node.stop() == "defid stopping"
    assert node.wait_for_exit() == 0
    assert not os.path.exists(os.path.join(node.chaindir, ".cookie"))
    node.start().wait_for_rpc()
    node.process.send_signal(signal.SIGINT)
    assert node.wait_for_exit() == 0


def test_conf_file_and_rpcpassword(defid_bin, tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    n = TestNode(defid_bin, str(d))
    (d / "defi.conf").write_text(f"# test\nrpcuser=alice\nrpcpassword=s3cret\nrpcport={n.rpcport}\n")
    n.extra_args = []
    n.start()
    try:
        import time
        for _ in range(200):
            try:
                if n.post({"method": "getblockcount"}, auth="alice:s3cret").status_code == 200:
                    break
            except Exception:
                time.sleep(0.05)
        assert n.post({"method": "getblockcount"}, auth="alice:s3cret").json()["result"] == 0
        assert n.post({"method": "getblockcount"}, auth="alice:wrong").status_code == 401
    finally:
        n.kill()
    (d / "defi.conf").write_text("nosuchoption=1\n")
    out = subprocess.run([defid_bin, "-regtest", f"-datadir={d}"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "unknown option nosuchoption" in out.stderr


def test_daemon_mode(defid_bin, tmp_path):
    n = TestNode(defid_bin, str(tmp_path / "d"))
    os.makedirs(n.datadir)
    out = subprocess.run([defid_bin, "-regtest", f"-datadir={n.datadir}", f"-rpcport={n.rpcport}", "-listen=0", "-daemon"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    import time
    for _ in range(200):
        if os.path.exists(os.path.join(n.chaindir, ".cookie")):
            break
        time.sleep(0.05)
    for _ in range(100):
        try:
            n.rpc("getblockcount")
            break
        except Exception:
            time.sleep(0.05)
    assert n.rpc("stop") == "defid stopping"



def test_a_slow_call_holds_up_only_its_caller(node):
    """RPC calls run on worker threads: while one request mines 500 blocks,
    another is answered with the height it has reached so far."""
    addr = node.getnewaddress()
    done = []
    slow = threading.Thread(target=lambda: done.append(node.generatetoaddress(500, addr)))
    slow.start()
    seen = None
    while slow.is_alive() and seen is None:
        h = node.getblockcount()
        if 0 < h < 500:
            seen = h
    slow.join()
    assert seen is not None, "no call was answered while the mining request ran"
    assert len(done[0]) == 500 and node.getblockcount() == 500


def test_basic_auth_scheme_is_case_insensitive(node):
    token = base64.b64encode(node.auth().encode()).decode()
    for scheme in ("basic", "BASIC"):
        r = requests.post(node.url, data='{"method":"getblockcount"}', timeout=30,
                          headers={"Authorization": f"{scheme} {token}"})
        assert r.status_code == 200 and r.json()["result"] == 0


def test_chain_info_and_tips(node):
    info = node.getblockchaininfo()
    # At genesis the tip is years old: the node counts itself as catching up.
    assert (info["blocks"], info["headers"], info["initialblockdownload"]) == (0, 0, True)
    assert info["difficulty"] == 1 and info["verificationprogress"] == 1
    addr = node.getnewaddress()
    hashes = node.generatetoaddress(3, addr)
    info = node.getblockchaininfo()
    assert (info["blocks"], info["headers"], info["initialblockdownload"]) == (3, 3, False)
    assert node.getchaintips() == [{"height": 3, "hash": hashes[2], "branchlen": 0, "status": "active"}]
    # A fork: invalidate block 2, mine a longer branch, then look at both tips.
    node.invalidateblock(hashes[1])
    fork = node.generatetoaddress(3, node.getnewaddress())
    tips = {t["hash"]: t for t in node.getchaintips()}
    assert tips[fork[-1]] == {"height": 4, "hash": fork[-1], "branchlen": 0, "status": "active"}
    assert tips[hashes[2]] == {"height": 3, "hash": hashes[2], "branchlen": 2, "status": "invalid"}
    node.reconsiderblock(hashes[1])
    tips = {t["hash"]: t for t in node.getchaintips()}
    assert tips[hashes[2]]["status"] == "valid-fork" and tips[fork[-1]]["status"] == "active"


def test_testnet_is_its_own_network(defid_bin, tmp_path):
    from framework.test_node import free_port
    port = free_port()
    args = [defid_bin, "-testnet", f"-datadir={tmp_path / 't'}", "-noprinttoconsole", f"-rpcport={port}", "-listen=0"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        cookie = tmp_path / "t" / "testnet" / ".cookie"
        deadline = time.time() + 60
        while not cookie.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        auth = base64.b64encode(cookie.read_text().strip().encode()).decode()
        r = requests.post(f"http://127.0.0.1:{port}/", timeout=30, headers={"Authorization": "Basic " + auth},
                          data='{"method":"getblockchaininfo"}').json()["result"]
        assert r["chain"] == "testnet" and r["blocks"] == 0 and r["lockaddress"].startswith("tf1")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    both = subprocess.run([defid_bin, "-testnet", "-regtest", f"-datadir={tmp_path / 'x'}"], capture_output=True,
                          text=True, timeout=30)
    assert both.returncode == 1 and "-regtest and -testnet exclude each other" in both.stderr
    assert not (tmp_path / "x").exists()
