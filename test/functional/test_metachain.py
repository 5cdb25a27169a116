"""The product end to end, in every mode (ffi, grpc, jsonrpc): deposits to 0x
addresses, wallet-signed meta transfers (EIP-1559 txs), withdrawals signed by
the wallet or outside it (EIP-712), the lock invariant after every block
(lockbalance x 10^10 == supplywei + burnedwei), restarts, kill -9 and
recovery, reorgs, two nodes, bad input."""
import hashlib
import os
import signal
import time

import pytest
from eth_utils import is_checksum_address, keccak

from conftest import MODES
from framework.messages import CBlock
from framework.meta_key import WEI_PER_COIN, MetaKey, txid, withdrawal
from framework.metachain import (EMPTY_CODE_HASH, FEE, D, assert_invariant, fee_of, h, meta_wei, mine,
                                 native_balance, units)
from framework.test_node import RPCError, TestNode

COIN_WEI = WEI_PER_COIN


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


def transfer_fee(node, txhash):
    """The gas a mined metatransfer paid, in wei (21000 x its effective gas price)."""
    r = node.getmetareceipt(txhash)
    assert r["status"] and r["gasused"] == 21_000 and r["txtype"] == 2, r
    return fee_of(r)


@pytest.mark.parametrize("mode", MODES)
def test_deposit_then_mine(funded, mode):
    node, _, addr = funded(mode)
    info = node.getmetachaininfo()
    assert info["mode"] == mode and info["chainid"] == 1132
    assert (info["supplywei"], info["burnedwei"]) == ("0", "0")
    meta = node.getnewmetaaddress()
    assert meta.startswith("0x") and len(meta) == 42 and is_checksum_address(meta), meta
    native_txid = node.deposittometachain(addr, meta, 10)
    assert meta_wei(node, meta) == 0, "nothing moves before a block"
    block_hash = mine(node)[0]
    bal = node.getmetabalance(meta)
    assert (bal["address"], D(bal["balance"]), bal["wei"], bal["nonce"], bal["pendingnonce"], bal["codehash"]) == \
        (meta, 10, str(10 * COIN_WEI), 0, 0, EMPTY_CODE_HASH), bal
    info = node.getmetachaininfo()
    assert D(info["lockbalance"]) == 10 and info["supplywei"] == str(10 * COIN_WEI)
    assert native_balance(node, addr) == 100 - 10 - FEE
    block = node.getblock(block_hash, 2)
    assert [t["type"] for t in block["tx"]] == ["coinbase", "deposittometachain"]
    # The native block carries the metachain block: payloadhash is sha256 of the
    # payload, metablockhash (the metachain's name for it) keccak256.
    payload = CBlock.deserialize(bytes.fromhex(node.getblock(block_hash, 0))).payload
    assert block["payloadhash"] == hashlib.sha256(payload).hexdigest()
    assert h(block["metablockhash"]) == keccak(payload).hex() == h(info["hash"])
    mb = node.getmetablock(str(block["height"]))
    assert h(mb["hash"]) == h(block["metablockhash"])
    assert mb["number"] == mb["nativeheight"] == block["height"] and mb["nativetime"] == block["time"]
    assert mb["transactions"] == []
    [sys_tx] = mb["systemtxs"]
    assert (sys_tx["kind"], sys_tx["to"], D(sys_tx["amount"]), sys_tx["nativetxid"]) == \
        ("deposit", meta, 10, native_txid), sys_tx
    # The same block by hash, with or without 0x.
    assert node.getmetablock(h(mb["hash"])) == mb == node.getmetablock("0x" + h(mb["hash"]))


@pytest.mark.parametrize("mode", MODES)
def test_meta_transfer_then_withdraw(funded, mode):
    node, _, addr = funded(mode)
    m1, m2, out = node.getnewmetaaddress(), node.getnewmetaaddress(), node.getnewaddress()
    node.deposittometachain(addr, m1, 10)
    mine(node)
    t = node.metatransfer(m1, m2, 3)
    assert t.startswith("0x") and len(t) == 66
    assert node.getmetabalance(m1)["pendingnonce"] == 1
    mine(node)
    fee = transfer_fee(node, t)
    assert (meta_wei(node, m1), meta_wei(node, m2)) == (7 * COIN_WEI - fee, 3 * COIN_WEI)
    assert node.getmetabalance(m1)["nonce"] == 1
    node.withdrawfrommetachain(m2, out, 2)
    mine(node)
    assert meta_wei(node, m2) == 1 * COIN_WEI and node.getmetabalance(m2)["nonce"] == 1
    assert native_balance(node, out) == 2 - FEE
    info = assert_invariant(node)
    assert D(info["lockbalance"]) == 8
    # The base fee of the transfer was burned, the tip paid to the miner's meta address.
    assert int(info["burnedwei"]) > 0 and int(info["supplywei"]) == 8 * COIN_WEI - int(info["burnedwei"])


@pytest.mark.parametrize("mode", MODES)
def test_withdrawal_above_meta_balance_is_refused(funded, mode):
    node, _, addr = funded(mode)
    m1, out = node.getnewmetaaddress(), node.getnewaddress()
    node.deposittometachain(addr, m1, 10)
    mine(node)
    m2 = node.getnewmetaaddress()
    node.metatransfer(m1, m2, 1)
    mine(node)
    before = (node.getmetachaininfo(), native_balance(node, out), node.getmetabalance(m2))
    with pytest.raises(RPCError) as e:
        node.withdrawfrommetachain(m2, out, 5)  # m2 holds 1; the lock holds 10
    assert e.value.code == -26 and "insufficient meta balance" in e.value.message, e.value.message
    assert node.getrawmempool() == []
    assert (node.getmetachaininfo(), native_balance(node, out), node.getmetabalance(m2)) == before
    mine(node)
    after = node.getmetachaininfo()
    assert (after["supplywei"], after["lockbalance"]) == (before[0]["supplywei"], before[0]["lockbalance"])
    assert native_balance(node, out) == before[1] and meta_wei(node, m2) == COIN_WEI


@pytest.mark.parametrize("mode", MODES)
def test_restarts_persist_everything(funded, mode):
    node, server, addr = funded(mode)
    meta, other = node.getnewmetaaddress(), node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 4)
    mine(node, 2)
    first = node.metatransfer(meta, other, 1)  # still pending at the restart
    tip, info = node.getbestblockhash(), node.getmetachaininfo()
    assert node.stop_process() == 0
    if server:
        assert server.stop() == 0
        server.start()
        node.extra_args = server.defid_args(mode)
    node.start().wait_for_rpc()
    assert node.getbestblockhash() == tip
    assert node.getmetachaininfo() == info
    assert meta_wei(node, meta) == 4 * COIN_WEI
    # The pending transfer survived, and the wallet signs the next one past it.
    assert node.getmetabalance(meta)["pendingnonce"] == 1
    second = node.metatransfer(meta, other, 1)
    mine(node)
    fees = transfer_fee(node, first) + transfer_fee(node, second)
    assert (meta_wei(node, meta), meta_wei(node, other)) == (2 * COIN_WEI - fees, 2 * COIN_WEI)
    assert node.getmetabalance(meta)["nonce"] == 2


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
    info = assert_invariant(node)
    assert h(info["hash"]) == h(node.getblock(node.getbestblockhash())["metablockhash"])
    assert meta_wei(node, meta) == 3 * COIN_WEI
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
    assert meta_wei(node, meta) == 6 * COIN_WEI
    assert native_balance(node, out) == 1 - FEE


@pytest.mark.parametrize("mode", MODES)
def test_raw_withdrawals_signed_outside_the_wallet(funded, mode):
    """Withdrawals built here (framework/meta_key.py) and signed by eth-account
    (EIP-712): one signed by another key and one with a broken signature are
    refused, with the metachain's reason, and change nothing; the right key's
    is paid out."""
    node, server, addr = funded(mode)
    key, stranger = MetaKey(0x1234), MetaKey(0x5678)
    node.deposittometachain(addr, key.address, 5)
    mine(node)
    assert meta_wei(node, key.address) == 5 * COIN_WEI
    out = node.getnewaddress()

    def raw(signer, coins, broken=False):
        sat, fee = units(coins), units(FEE)
        sig = signer.sign_withdrawal(out, sat, 0)
        if broken:
            sig = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
        return withdrawal(key.address, out, sat, fee, 0, sig)

    for bad in (raw(stranger, 1), raw(key, 1, broken=True)):
        before = (node.getmetachaininfo(), node.getmetabalance(key.address))
        with pytest.raises(RPCError) as e:
            node.sendrawtransaction(bad.hex())
        assert e.value.code == -26 and "the metachain refuses" in e.value.message \
            and "signature" in e.value.message, e.value.message
        assert node.getrawmempool() == []
        assert (node.getmetachaininfo(), node.getmetabalance(key.address)) == before
        mine(node)
        after = node.getmetachaininfo()
        assert (after["supplywei"], after["lockbalance"]) == (before[0]["supplywei"], before[0]["lockbalance"])
        assert meta_wei(node, key.address) == 5 * COIN_WEI and native_balance(node, out) == 0

    good = raw(key, D(2))
    decoded = node.decoderawtransaction(good.hex())
    assert (decoded["txid"], decoded["type"], decoded["metafrom"], decoded["to"], decoded["metanonce"]) == \
        (txid(good), "withdrawfrommetachain", key.address, out, 0)
    assert decoded["metasignature"] == key.sign_withdrawal(out, units(2), 0).hex()
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
    assert meta_wei(node, key.address) == 3 * COIN_WEI
    assert node.getmetabalance(key.address)["nonce"] == 1
    assert native_balance(node, out) == 2 - FEE
    mined = node.getrawtransaction(txid(good), True)
    assert (mined["hex"], mined["blockhash"], mined["confirmations"]) == (good.hex(), block, 1)
    # The withdrawal's system tx is in the metachain block, with the native txid.
    [sys_tx] = node.getmetablock(str(node.getblockcount()))["systemtxs"]
    assert (sys_tx["kind"], sys_tx["from"], sys_tx["to"], D(sys_tx["amount"]), sys_tx["nonce"],
            sys_tx["nativetxid"]) == ("withdraw", key.address, out, 2, 0, txid(good)), sys_tx


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
    assert_invariant(node)
    assert meta_wei(node, meta) == 2 * COIN_WEI


@pytest.mark.parametrize("mode", MODES)
def test_reorg_follows_the_native_chain(funded, mode):
    node, _, addr = funded(mode)
    meta, other = node.getnewmetaaddress(), node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 6)
    fork_block = mine(node)[0]
    t = node.metatransfer(meta, other, 1)
    mine(node, 3)
    fee = transfer_fee(node, t)
    tip, info = node.getbestblockhash(), node.getmetachaininfo()
    # Depth 4: back to before the deposit. The transfer returns to the
    # metachain's pool, but its sender has nothing now.
    node.invalidateblock(fork_block)
    assert_invariant(node)
    assert meta_wei(node, meta) == 0 and meta_wei(node, other) == 0
    assert node.getmetachaininfo()["burnedwei"] == "0"
    node.reconsiderblock(fork_block)
    assert node.getbestblockhash() == tip
    assert node.getmetachaininfo() == info
    assert (meta_wei(node, meta), meta_wei(node, other)) == (5 * COIN_WEI - fee, COIN_WEI)
    assert_invariant(node)
    # A heavier branch without the old blocks wins; the deposit rides again
    # (back in the native mempool). The transfer went back to the metachain's
    # pool at the fork point, where its sender had nothing: it was dropped
    # there (as a txpool re-checks reorged-out txs against the new state), so
    # the wallet sends it again.
    node.invalidateblock(fork_block)
    assert meta_wei(node, meta) == 0 and node.getmetabalance(meta)["pendingnonce"] == 0
    branch = mine(node, 6, node.getnewaddress())  # another coinbase: not the invalidated block again
    node.reconsiderblock(fork_block)
    assert node.getbestblockhash() == branch[-1]
    assert (meta_wei(node, meta), meta_wei(node, other)) == (6 * COIN_WEI, 0)
    with pytest.raises(RPCError):
        node.getmetareceipt(t)
    again = node.metatransfer(meta, other, 1)
    mine(node)
    assert (meta_wei(node, meta), meta_wei(node, other)) == (5 * COIN_WEI - transfer_fee(node, again), COIN_WEI)
    assert_invariant(node)


def _remine_with_payload_byte_flipped(block_hex):
    block = CBlock.deserialize(bytes.fromhex(block_hex))
    block.payload = block.payload[:-1] + bytes([block.payload[-1] ^ 1])
    return block.rehash_and_solve().serialize().hex()


@pytest.mark.parametrize("mode", MODES)
def test_two_nodes_validate_each_others_blocks(funded, node_in_mode, mode):
    node, _, addr = funded(mode)
    other, _ = node_in_mode(mode, 1)
    other.wait_for_rpc()
    meta, meta2 = node.getnewmetaaddress(), node.getnewmetaaddress()
    node.deposittometachain(addr, meta, 5)
    mine(node, 2)
    node.metatransfer(meta, meta2, 1)  # an EVM tx the other node re-executes
    mine(node)
    for height in range(1, node.getblockcount() + 1):
        assert other.submitblock(node.getblock(node.getblockhash(height), 0)) is None
    assert other.getbestblockhash() == node.getbestblockhash()
    assert node.getmetabalance(meta) == other.getmetabalance(meta)
    assert meta_wei(other, meta2) == COIN_WEI
    assert other.getmetachaininfo()["hash"] == node.getmetachaininfo()["hash"]
    assert other.getmetachaininfo()["stateroot"] == node.getmetachaininfo()["stateroot"]
    assert_invariant(other)
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
        assert e.value.code == code, (method, params, e.value.code, e.value.message)
        return e.value.message
    assert "Invalid meta address" in err(-5, "deposittometachain", addr, addr, 1)
    assert "Invalid address" in err(-5, "deposittometachain", meta, meta, 1)
    assert "out of range" in err(-3, "deposittometachain", addr, meta, -1)
    err(-3, "deposittometachain", addr, meta, 1e12)
    err(-6, "deposittometachain", addr, meta, 1000)
    foreign = MetaKey(0xF0F0).address
    assert "no key" in err(-5, "withdrawfrommetachain", foreign, addr, 1)
    assert "no key" in err(-5, "metatransfer", foreign, meta, 1)
    assert "Invalid meta address" in err(-5, "getmetabalance", "bogus")
    # 0x addresses: all-lowercase and all-uppercase are taken, mixed case only
    # with a valid EIP-55 checksum; the answer is always EIP-55.
    assert node.getmetabalance(meta.lower())["address"] == meta
    assert node.getmetabalance("0x" + meta[2:].upper())["address"] == meta
    bad_case = meta[:2] + meta[2:].swapcase()
    if bad_case not in (meta.lower(), "0x" + meta[2:].upper()):
        assert "Invalid meta address" in err(-5, "getmetabalance", bad_case)
    for wrong in ("0x" + "11" * 19, "0x" + "11" * 21, "11" * 20, "0x" + "g" * 40, "dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"):
        assert "Invalid meta address" in err(-5, "getmetabalance", wrong), wrong
    assert "insufficient funds" in err(-8, "metatransfer", meta, foreign, 1)
    assert "signature must be 65 bytes" in err(-8, "withdrawfrommetachain", foreign, addr, 1, "00" * 64)
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
        for call in (("getmetachaininfo",), ("getmetabalance", MetaKey(1).address),
                     ("sendrawmetatransaction", "0x02")):
            with pytest.raises(RPCError) as e:
                node.rpc(*call)
            assert "No metachain" in e.value.message, (call, e.value.message)
        assert_invariant(node)  # an empty lock
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
        assert h(tip["hash"]) == h(node.getmetachaininfo()["hash"]) and str(tip["chainId"]) == "1132"
        balance = call("meta_getBalance", [{"address": meta}])["result"]
        assert balance["balanceWei"] == str(COIN_WEI) and balance["address"] == meta, balance
        # Control rpcs need the secret written next to the embedded metachain.
        assert call("metaConsensusRpc_mintBlock", [{}])["error"]["code"] == -32005
        secret = os.path.join(node.chaindir, "metachain", "jwt.hex")
        assert "result" in call("metaConsensusRpc_mintBlock", [{}], jwt.token(secret))
    finally:
        node.kill()
