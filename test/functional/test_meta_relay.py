"""Metachain txs travel over P2P (docs/p2p.md, `metatx`): a tx sent to any node's
metachain reaches every node, whatever its mode, and whichever node mines next
includes it. A peer relaying a tx that is invalid in itself is banned; one relaying a
merely stale tx is not."""
import re

import pytest

from framework.meta_key import GWEI, MetaKey, eip1559, tx_hash
from framework.metachain import assert_invariant, mine
from framework.metachaind import Metachaind
from framework.p2p import MSG_META_TX, P2PConnection, msg_inv, msg_metatx
from framework.test_node import TestNode, connect_nodes
from framework.util import wait_until

from web3 import Web3
from web3.exceptions import TransactionNotFound


def eth_url(node):
    urls = re.search(r"embedded metachain serving grpc://\S+ (http://\S+)", node.debug_log)
    assert urls, node.debug_log
    return urls.group(1)


@pytest.fixture
def line(defid_bin, metachaind_bin, tmp_path):
    """a (ffi) - b (grpc metachaind) - c (jsonrpc metachaind), with a web3 on each metachain."""
    servers = [Metachaind(metachaind_bin, str(tmp_path / f"meta{i}")).start() for i in (1, 2)]
    a = TestNode(defid_bin, str(tmp_path / "a"), ["-meta=--grpc-addr=127.0.0.1:0 --rpc-addr=127.0.0.1:0"]).start()
    b = TestNode(defid_bin, str(tmp_path / "b"), servers[0].defid_args("grpc")).start()
    c = TestNode(defid_bin, str(tmp_path / "c"), servers[1].defid_args("jsonrpc")).start()
    nodes = [a, b, c]
    for n in nodes:
        n.wait_for_rpc()
        n._mining_address = n.getnewaddress()
    urls = [eth_url(a), servers[0].http_url, servers[1].http_url]
    w3s = [Web3(Web3.HTTPProvider(u, request_kwargs={"timeout": 30})) for u in urls]
    connect_nodes(a, b)
    connect_nodes(b, c)
    yield nodes, w3s
    for n in nodes:
        n.kill()
    for s in servers:
        s.stop()


def same_tips(nodes):
    tips = {n.getbestblockhash() for n in nodes}
    metas = {n.getmetachaininfo()["hash"] for n in nodes}
    return len(tips) == 1 and len(metas) == 1


def _tx(w3, h):
    """The tx as w3's node knows it, or None."""
    try:
        return w3.eth.get_transaction(h)
    except TransactionNotFound:
        return None


def _known(w3, h):
    return _tx(w3, h) is not None


def pooled(w3, h):
    tx = _tx(w3, h)
    return tx is not None and tx["blockHash"] is None


def funded_key(a, secret):
    """A MetaKey given 5 coins by a deposit a mines (after two blocks for its coins)."""
    mine(a, 2)
    key = MetaKey(secret)
    a.deposittometachain(a._mining_address, key.address, 5)
    mine(a)
    return key


def test_meta_txs_relay_across_modes_and_are_mined_by_any_node(line):
    (a, b, c), (wa, wb, wc) = line
    key = funded_key(a, 0x5E1A1)
    wait_until(lambda: same_tips([a, b, c]), what="the deposit on every node")

    # Sent to a's metachain: reaches c's pool through b, two hops over P2P.
    raw1 = key.sign_tx(eip1559(0, to="0x" + "51" * 20, value=10**15))
    h1 = wa.eth.send_raw_transaction(raw1).to_0x_hex()
    assert h1 == tx_hash(raw1)
    wait_until(lambda: pooled(wc, h1) and pooled(wb, h1), what="tx 1 in every pool")
    # Mined by c; a sees the receipt.
    mine(c)
    wait_until(lambda: same_tips([a, b, c]), what="c's block everywhere")
    assert wa.eth.get_transaction_receipt(h1)["status"] == 1

    # Sent through defid's RPC on c: mined by a.
    raw2 = key.sign_tx(eip1559(1, to="0x" + "52" * 20, value=10**15))
    h2 = c.sendrawmetatransaction(raw2.hex())
    wait_until(lambda: pooled(wa, tx_hash(raw2)), what="tx 2 in a's pool")
    mine(a)
    wait_until(lambda: same_tips([a, b, c]), what="a's block everywhere")
    for w3 in (wa, wb, wc):
        assert w3.eth.get_transaction_receipt(tx_hash(raw2))["status"] == 1
        assert w3.eth.get_balance("0x" + "52" * 20) == 10**15
    assert h2.lower().removeprefix("0x") == tx_hash(raw2).removeprefix("0x")
    for n in (a, b, c):
        assert_invariant(n)


def test_invalid_relayed_meta_tx_bans_its_sender_a_stale_one_does_not(line):
    (a, b, c), (wa, _, _) = line
    key = funded_key(a, 0x5E1A2)
    raw = key.sign_tx(eip1559(0, to="0x" + "53" * 20, value=1))
    wa.eth.send_raw_transaction(raw)
    mine(a)
    assert wa.eth.get_transaction_receipt(tx_hash(raw))["status"] == 1

    # Stale: the same tx again (its nonce is used). The peer stays.
    stale = P2PConnection("127.0.0.1", a.p2pport, source="127.0.0.8").connect()
    stale.send_message(msg_metatx(raw))
    stale.sync_with_ping()
    # Signed for another chain: invalid in itself, the peer is banned.
    foreign = key.sign_tx(eip1559(1, to="0x" + "53" * 20, value=1, chain_id=1))
    evil = P2PConnection("127.0.0.1", a.p2pport, source="127.0.0.9").connect()
    evil.send_message(msg_metatx(foreign))
    evil.wait_for_disconnect()
    assert any(ban["address"].startswith("127.0.0.9") for ban in a.listbanned())
    stale.sync_with_ping()
    assert not _known(wa, tx_hash(foreign))

    # An announced tx is asked for (getdata) once.
    fresh = key.sign_tx(eip1559(1, to="0x" + "54" * 20, value=1, max_fee=11 * GWEI))
    fresh_hash = bytes.fromhex(tx_hash(fresh)[2:])
    stale.send_message(msg_inv([(MSG_META_TX, fresh_hash)]))
    ask = stale.wait_for("getdata")
    assert ask.items == [(MSG_META_TX, fresh_hash)]
    stale.send_message(msg_metatx(fresh))
    wait_until(lambda: pooled(wa, tx_hash(fresh)), what="the fetched tx in a's pool")


def test_eth_syncing_and_peer_count_follow_the_native_node(line):
    """The metachain has no network of its own: eth_syncing and net_peerCount report the
    native node's initial block download and peers, in every mode."""
    nodes, w3s = line

    def agree(node, w3):
        info = node.getblockchaininfo()
        syncing = w3.eth.syncing
        if info["initialblockdownload"]:
            return syncing is not False and syncing["highestBlock"] == info["headers"] and \
                syncing["currentBlock"] == info["blocks"]
        return syncing is False

    # Fresh nodes: only the (old) genesis, so in initial block download.
    for node, w3 in zip(nodes, w3s):
        assert node.getblockchaininfo()["initialblockdownload"]
        wait_until(lambda: agree(node, w3), what="eth_syncing reporting the initial sync")
        wait_until(lambda: w3.net.peer_count == len(node.getpeerinfo()) > 0, what="net_peerCount")
    nodes[0].generatetoaddress(1, nodes[0]._mining_address)
    wait_until(lambda: same_tips(nodes), what="the block everywhere")
    for node, w3 in zip(nodes, w3s):
        assert not node.getblockchaininfo()["initialblockdownload"]
        wait_until(lambda: agree(node, w3), what="eth_syncing false after the sync")


def test_txs_pooled_while_apart_reach_peers_that_connect_later(line):
    """A tx admitted while its node had no peers, or read back from the pool file at a
    restart, is announced once peers connect: no node's pooled txs stay its own."""
    (a, b, c), (wa, wb, wc) = line
    key = funded_key(a, 0x5E1A3)
    wait_until(lambda: same_tips([a, b, c]), what="the deposit everywhere")
    # c alone: a tx sent to it has nobody to go to.
    c.setnetworkactive(False)
    wait_until(lambda: not c.getpeerinfo(), what="c apart")
    raw = key.sign_tx(eip1559(0, to="0x" + "55" * 20, value=10**15))
    h = wc.eth.send_raw_transaction(raw).to_0x_hex()
    assert not _known(wb, h)
    c.setnetworkactive(True)
    connect_nodes(b, c)
    wait_until(lambda: pooled(wb, h) and pooled(wa, h), what="the apart tx reaching a and b")
    mine(a)
    wait_until(lambda: same_tips([a, b, c]), what="a's block everywhere")
    assert wc.eth.get_transaction_receipt(h)["status"] == 1
