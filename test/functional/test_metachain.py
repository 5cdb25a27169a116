"""The product end to end, in every mode (ffi, grpc, jsonrpc): deposits,
meta transfers and withdrawals, the lock invariant after every block,
restarts, kill -9 and recovery, reorgs, two nodes, bad input."""
import hashlib
import os
import signal
import struct
import time
from decimal import Decimal

import pytest

from conftest import MODES
from framework.meta_key import KIND_WITHDRAW, MetaKey, txid, withdrawal
from framework.test_node import RPCError, TestNode

FEE = Decimal("0.0001")


def D(x):
    return Decimal(str(x))


def invariant(node):
    """The lock address holds exactly the metachain's supply."""
    info = node.getmetachaininfo()
    assert D(info["lockbalance"]) == D(info["supply"]), info
    assert info["height"] == node.getblockcount(), info
    return info


def mine(node, n=1, to=None):
    to = to or node.getnewaddress()
    hashes = []
    for _ in range(n):
        hashes += node.generatetoaddress(1, to)
        invariant(node)
    return hashes


def meta_balance(node, addr):
    return D(node.getmetabalance(addr)["balance"])


def native_balance(node, addr):
    return D(node.getaddressbalance(addr)["balance"])


@pytest.fixture
def funded(node_in_mode):
    """A node in `mode` with 100 coins on a wallet address."""
    def make(mode, index=0):
        node, server = node_in_mode(mode, index)
        node.wait_for_rpc()
        addr = node.getnewaddress()
        mine(node, 2, addr)
        return node, server, addr
    return make


@pytest.mark.parametrize("mode", MODES)
def test_deposit_then_mine(funded, mode):
    node, _, addr = funded(mode)
    assert node.getmetachaininfo()["mode"] == mode
    meta = node.getnewmetaaddress()
    assert meta.startswith("dmc1")
    node.deposittometachain(addr, meta, 10)
    assert meta_balance(node, meta) == 0, "nothing moves before a block"
    block_hash = mine(node)[0]
    assert meta_balance(node, meta) == 10
    assert D(node.getmetachaininfo()["lockbalance"]) == 10
    assert native_balance(node, addr) == 100 - 10 - FEE
    block = node.getblock(block_hash, 2)
    assert block["metablockhash"] == block["payloadhash"] == node.getmetachaininfo()["hash"]
    assert [t["type"] for t in block["tx"]] == ["coinbase", "deposittometachain"]
    mb = node.getmetablock(str(block["height"]))
    assert mb["hash"] == block["metablockhash"] and mb["nativeheight"] == block["height"]
    assert mb["tx"][0]["to"] == meta


@pytest.mark.parametrize("mode", MODES)
def test_meta_transfer_then_withdraw(funded, mode):
    node, _, addr = funded(mode)
    m1, m2, out = node.getnewmetaaddress(), node.getnewmetaaddress(), node.getnewaddress()
    node.deposittometachain(addr, m1, 10)
    mine(node)
    node.metatransfer(m1, m2, 3)
    mine(node)
    assert (meta_balance(node, m1), meta_balance(node, m2)) == (7, 3)
    node.withdrawfrommetachain(m2, out, 2)
    mine(node)
    assert meta_balance(node, m2) == 1
    assert native_balance(node, out) == 2 - FEE
    info = invariant(node)
    assert D(info["lockbalance"]) == 8


@pytest.mark.parametrize("mode", MODES)
def test_withdrawal_above_meta_balance_is_refused(funded, mode):
    node, _, addr = funded(mode)
    m1, out = node.getnewmetaaddress(), node.getnewaddress()
    node.deposittometachain(addr, m1, 10)
    mine(node)
    m2 = node.getnewmetaaddress()
    node.metatransfer(m1, m2, 1)
    mine(node)
    before = (node.getmetachaininfo(), native_balance(node, out))
    with pytest.raises(RPCError) as e:
        node.withdrawfrommetachain(m2, out, 5)  # m2 holds 1; the lock holds 10
    assert e.value.code == -26 and "insufficient meta balance" in e.value.message
    assert node.getrawmempool() == []
    mine(node)
    after = node.getmetachaininfo()
    assert (after["supply"], after["lockbalance"]) == (before[0]["supply"], before[0]["lockbalance"])
    assert native_balance(node, out) == before[1] and meta_balance(node, m2) == 1


@pytest.mark.parametrize("mode", MODES)
def test_restarts_persist_everything(funded, mode):
    node, server, addr = funded(mode)
    meta, other = node.getnewmetaaddress(), node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 4)
    mine(node, 2)
    node.metatransfer(meta, other, 1)  # still pending at the restart
    tip, info = node.getbestblockhash(), node.getmetachaininfo()
    assert node.stop_process() == 0
    if server:
        assert server.stop() == 0
        server.start()
        node.extra_args = server.defid_args(mode)
    node.start().wait_for_rpc()
    assert node.getbestblockhash() == tip
    assert node.getmetachaininfo() == info
    assert meta_balance(node, meta) == 4
    # The pending transfer survived, and the wallet signs the next one past it.
    node.metatransfer(meta, other, 1)
    mine(node)
    assert (meta_balance(node, meta), meta_balance(node, other)) == (2, 2)


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_during_mining_then_recovery(funded, mode):
    node, server, addr = funded(mode)
    meta = node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 3)
    mine(node)
    cli = node.cli("generatetoaddress", "100", addr, wait=False)
    time.sleep(0.4)
    node.process.send_signal(signal.SIGKILL)
    node.process.wait()
    cli.wait()
    if server:
        server.kill()
        server.start()
        node.extra_args = server.defid_args(mode)
    node.start().wait_for_rpc()
    info = invariant(node)
    assert info["hash"] == node.getblock(node.getbestblockhash())["metablockhash"]
    assert meta_balance(node, meta) == 3
    mine(node)


@pytest.mark.parametrize("mode", MODES)
def test_pending_deposit_and_withdrawal_survive_kill_9(funded, mode):
    node, server, addr = funded(mode)
    meta = node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 5)
    mine(node)
    out = node.getnewaddress()
    pending = {node.deposittometachain(addr, meta, 2), node.withdrawfrommetachain(meta, out, 1)}
    node.kill()  # SIGKILL
    node.start().wait_for_rpc()
    assert set(node.getrawmempool()) == pending
    mine(node)
    assert node.getrawmempool() == []
    assert meta_balance(node, meta) == 6
    assert native_balance(node, out) == 1 - FEE


@pytest.mark.parametrize("mode", MODES)
def test_raw_withdrawals_signed_outside_the_wallet(funded, mode):
    """Withdrawals built and signed by the test (framework/meta_key.py): one
    signed by another key and one with a broken signature are refused, with
    the metachain's reason, and change nothing; the right key's is paid out."""
    node, server, addr = funded(mode)
    key, stranger = MetaKey(0x1234), MetaKey(0x5678)
    node.deposittometachain(addr, key.address, 5)
    mine(node)
    assert meta_balance(node, key.address) == 5
    out = node.getnewaddress()

    def raw(signer, coins, broken=False):
        sat, fee = int(coins * 10**8), int(FEE * 10**8)
        sig = signer.sign(KIND_WITHDRAW, key.address, out, sat, 0)
        if broken:
            sig = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
        return withdrawal(key.address, out, sat, fee, 0, signer.pubkey, sig)

    for bad, why in ((raw(stranger, 1), "key"), (raw(key, 1, broken=True), "signature")):
        before = node.getmetachaininfo()
        with pytest.raises(RPCError) as e:
            node.sendrawtransaction(bad.hex())
        assert e.value.code == -26 and "the metachain refuses" in e.value.message and why in e.value.message
        assert node.getrawmempool() == []
        mine(node)
        after = node.getmetachaininfo()
        assert (after["supply"], after["lockbalance"]) == (before["supply"], before["lockbalance"])
        assert meta_balance(node, key.address) == 5 and native_balance(node, out) == 0

    good = raw(key, D(2))
    decoded = node.decoderawtransaction(good.hex())
    assert (decoded["txid"], decoded["type"], decoded["metafrom"], decoded["to"]) == \
        (txid(good), "withdrawfrommetachain", key.address, out)
    assert (D(decoded["amount"]), D(decoded["fee"]), decoded["size"]) == (2, FEE, len(good))
    assert node.sendrawtransaction(good.hex()) == txid(good)
    assert node.getrawtransaction(txid(good)) == good.hex()
    with pytest.raises(RPCError) as e:
        node.sendrawtransaction(good.hex())
    assert e.value.code == -26 and "already" in e.value.message
    for junk in ("zz", good[:-1].hex()):
        for call in (node.sendrawtransaction, node.decoderawtransaction):
            with pytest.raises(RPCError) as e:
                call(junk)
            assert e.value.code == -22 and "decode failed" in e.value.message
    with pytest.raises(RPCError) as e:
        node.getrawtransaction("00" * 32)
    assert e.value.code == -5 and "No such mempool or blockchain transaction" in e.value.message
    assert node.getrawmempool() == [txid(good)]
    block = mine(node)[0]
    assert meta_balance(node, key.address) == 3
    assert native_balance(node, out) == 2 - FEE
    mined = node.getrawtransaction(txid(good), True)
    assert (mined["hex"], mined["blockhash"], mined["confirmations"]) == (good.hex(), block, 1)


@pytest.mark.parametrize("mode", ["grpc", "jsonrpc"])
def test_metachaind_killed_then_both_restart_and_agree(funded, mode):
    node, server, addr = funded(mode)
    meta = node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 2)
    mine(node, 2)
    server.kill()
    assert node.wait_for_exit(timeout=10) != 0
    assert "metachain unreachable" in node.stderr
    server.start()
    node.extra_args = server.defid_args(mode)
    node.start().wait_for_rpc()
    invariant(node)
    assert meta_balance(node, meta) == 2


@pytest.mark.parametrize("mode", MODES)
def test_reorg_follows_the_native_chain(funded, mode):
    node, _, addr = funded(mode)
    meta = node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 6)
    fork_block = mine(node)[0]
    mine(node, 3)
    tip = node.getbestblockhash()
    # Depth 4: back to before the deposit.
    node.invalidateblock(fork_block)
    invariant(node)
    assert meta_balance(node, meta) == 0
    node.reconsiderblock(fork_block)
    assert node.getbestblockhash() == tip
    assert meta_balance(node, meta) == 6
    invariant(node)
    # A heavier branch without the old blocks wins; the deposit rides again.
    node.invalidateblock(fork_block)
    branch = mine(node, 6)
    node.reconsiderblock(fork_block)
    assert node.getbestblockhash() == branch[-1]
    assert meta_balance(node, meta) == 6
    invariant(node)


def _remine_with_payload_byte_flipped(block_hex):
    raw = bytearray.fromhex(block_hex)
    (hlen,) = struct.unpack_from("<I", raw, 0)
    header = raw[4:4 + hlen]
    # The payload is the block's last field: u32 length, then the bytes.
    # Walk back from the end by trying the trailing length prefix.
    for start in range(len(raw) - 4, 4 + hlen, -1):
        (plen,) = struct.unpack_from("<I", raw, start)
        if start + 4 + plen == len(raw) and plen > 0:
            break
    raw[-1] ^= 1
    payload = bytes(raw[start + 4:])
    header[4 + 32 + 4 + 8 + 32:4 + 32 + 4 + 8 + 64] = hashlib.sha256(payload).digest()
    nonce_at = hlen - 8
    for nonce in range(1_000_000):
        struct.pack_into("<Q", header, nonce_at, nonce)
        if hashlib.sha256(hashlib.sha256(header).digest()).digest()[0] < 0x7f:
            break
    raw[4:4 + hlen] = header
    return raw.hex()


@pytest.mark.parametrize("mode", MODES)
def test_two_nodes_validate_each_others_blocks(funded, node_in_mode, mode):
    node, _, addr = funded(mode)
    other, _ = node_in_mode(mode, 1)
    other.wait_for_rpc()
    meta = node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 5)
    mine(node, 2)
    for h in range(1, node.getblockcount() + 1):
        assert other.submitblock(node.getblock(node.getblockhash(h), 0)) is None
    assert other.getbestblockhash() == node.getbestblockhash()
    assert meta_balance(other, meta) == 5
    assert other.getmetachaininfo()["hash"] == node.getmetachaininfo()["hash"]
    # A tampered payload is refused and changes nothing.
    node.deposittometachain(addr, meta, 1)
    new_tip = mine(node)[0]
    before = (other.getbestblockhash(), other.getmetachaininfo())
    reply = other.submitblock(_remine_with_payload_byte_flipped(node.getblock(new_tip, 0)))
    assert reply is not None and "bad-payload" in reply, reply
    assert (other.getbestblockhash(), other.getmetachaininfo()) == before


@pytest.mark.parametrize("mode", MODES)
def test_bad_input_is_refused_and_changes_nothing(funded, mode):
    node, _, addr = funded(mode)
    meta = node.getnewmetaaddress()
    before = (node.getbestblockhash(), node.getmetachaininfo(), node.getrawmempool())

    def err(code, method, *params):
        with pytest.raises(RPCError) as e:
            node.rpc(method, *params)
        assert e.value.code == code, e.value.message
        return e.value.message
    assert "Invalid meta address" in err(-5, "deposittometachain", addr, addr, 1)
    assert "Invalid address" in err(-5, "deposittometachain", meta, meta, 1)
    assert "out of range" in err(-3, "deposittometachain", addr, meta, -1)
    err(-3, "deposittometachain", addr, meta, 1e12)
    err(-6, "deposittometachain", addr, meta, 1000)
    foreign = "dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"
    assert "no key" in err(-5, "withdrawfrommetachain", foreign, addr, 1)
    assert "no key" in err(-5, "metatransfer", foreign, meta, 1)
    assert "Invalid meta address" in err(-5, "getmetabalance", "bogus")
    assert "insufficient" in err(-8, "metatransfer", meta, foreign, 1)
    assert (node.getbestblockhash(), node.getmetachaininfo(), node.getrawmempool()) == before


@pytest.mark.parametrize("mode", ["grpc", "jsonrpc"])
def test_wrong_secret_refuses_mining_and_changes_nothing(defid_bin, metachaind, tmp_path, mode):
    server = metachaind()
    wrong = tmp_path / "wrong.hex"
    wrong.write_text("ab" * 32)
    node = TestNode(defid_bin, str(tmp_path / "w"), [f"-meta_rpc={server.url(mode)}", f"-meta_rpc_secret={wrong}"])
    node.start().wait_for_rpc()
    try:
        with pytest.raises(RPCError) as e:
            node.generatetoaddress(1, node.getnewaddress())
        assert "control rpc" in e.value.message
        assert node.getblockcount() == 0 and node.getmetachaininfo()["height"] == 0
    finally:
        node.kill()


def test_native_only_node_refuses_metachain_rpcs_and_txs(defid_bin, tmp_path):
    node = TestNode(defid_bin, str(tmp_path / "plain")).start().wait_for_rpc()
    try:
        with pytest.raises(RPCError) as e:
            node.getmetachaininfo()
        assert "No metachain" in e.value.message
    finally:
        node.kill()


def test_embedded_metachain_serves_meta_wallets(defid_bin, tmp_path):
    """-meta with server addresses serves the in-process engine like metachaind."""
    import re

    import requests
    from framework import jwt
    node = TestNode(defid_bin, str(tmp_path / "e"), ["-meta=--grpc-addr=127.0.0.1:0 --rpc-addr=127.0.0.1:0"])
    node.start().wait_for_rpc()
    try:
        urls = re.search(r"embedded metachain serving (grpc://\S+) (http://\S+)", node.debug_log)
        assert urls, node.debug_log
        http = urls.group(2)
        addr = node.getnewaddress()
        meta = node.getnewmetaaddress()
        mine(node, 2, addr)
        node.deposittometachain(addr, meta, 1)
        mine(node)
        call = lambda method, params, token=None: requests.post(
            http, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            headers={"authorization": f"Bearer {token}"} if token else {}, timeout=10).json()
        tip = call("meta_getTip", [])["result"]
        assert tip["hash"] == node.getmetachaininfo()["hash"]
        assert call("meta_getBalance", [{"address": meta}])["result"]["balance"] == 100_000_000
        # Control rpcs need the secret written next to the embedded metachain.
        assert call("metaConsensusRpc_mintBlock", [{}])["error"]["code"] == -32005
        secret = os.path.join(node.chaindir, "metachain", "jwt.hex")
        assert "result" in call("metaConsensusRpc_mintBlock", [{}], jwt.token(secret))
    finally:
        node.kill()
