"""Nodes form a network: headers-first sync, block announcements, tx relay,
reorgs across a partition, in mixed metachain modes, each node validating
every payload through its own metachain; plus a peer that sends a block with
a tampered payload, and a node killed mid-sync."""
import pytest

from framework import contracts
from framework.messages import CBlock
from framework.meta_key import GWEI, WEI_PER_COIN, MetaKey, eip1559, tx_hash
from framework.metachain import D, assert_invariant as invariant
from framework.metachaind import Metachaind
from framework.p2p import P2PConnection, msg_block, msg_headers
from framework.test_node import TestNode, free_port
from framework.util import wait_until


class Net:
    """Nodes on loopback, each with its own P2P port and metachain mode."""

    def __init__(self, defid_bin, metachaind_bin, tmp_path):
        self.defid_bin, self.metachaind_bin, self.tmp = defid_bin, metachaind_bin, tmp_path
        self.nodes, self.servers = [], []

    def add(self, mode, extra=()):
        i = len(self.nodes)
        args = []
        if mode == "ffi":
            args = ["-meta"]
        elif mode in ("grpc", "jsonrpc"):
            server = Metachaind(self.metachaind_bin, str(self.tmp / f"metachaind{i}")).start()
            self.servers.append(server)
            args = server.defid_args(mode)
        port = free_port()
        node = TestNode(self.defid_bin, str(self.tmp / f"node{i}"), args + ["-listen=1", f"-port={port}", *extra])
        node.p2p_port = port
        node.mode = mode
        node.start().wait_for_rpc()
        self.nodes.append(node)
        return node

    def stop(self):
        for n in self.nodes:
            n.kill()
        for s in self.servers:
            s.stop()


@pytest.fixture
def net(defid_bin, metachaind_bin, tmp_path):
    n = Net(defid_bin, metachaind_bin, tmp_path)
    yield n
    n.stop()


def connect(a, b):
    """a opens a connection to b; returns once both see it."""
    before_a, before_b = a.getconnectioncount(), b.getconnectioncount()
    a.addnode(f"127.0.0.1:{b.p2p_port}", "onetry")
    wait_until(lambda: a.getconnectioncount() > before_a and b.getconnectioncount() > before_b,
               what="the connection on both sides")


def sync_blocks(nodes, timeout=60):
    wait_until(lambda: len({n.getbestblockhash() for n in nodes}) == 1, timeout=timeout,
               what="the same tip on every node")


def sync_mempools(nodes, timeout=30):
    wait_until(lambda: len({tuple(sorted(n.getrawmempool())) for n in nodes}) == 1, timeout=timeout,
               what="the same mempool on every node")


def test_two_native_nodes_sync_and_relay(net):
    a, b = net.add("none"), net.add("none")
    addr = a.getnewaddress()
    a.generatetoaddress(30, addr)
    connect(b, a)
    sync_blocks([a, b])
    # New blocks are announced at once.
    a.generatetoaddress(2, addr)
    sync_blocks([a, b])
    info = b.getpeerinfo()[0]
    assert info["synced_headers"] == 32 and info["synced_blocks"] == 32
    # A tx sent to one node reaches the other's mempool, and the other mines it.
    alice = b.getnewaddress()
    txid = a.sendtoaddress(alice, 3)
    sync_mempools([a, b])
    assert b.getrawmempool() == [txid]
    b.generatetoaddress(1, b.getnewaddress())
    sync_blocks([a, b])
    assert a.getrawmempool() == [] and b.getrawmempool() == []
    assert D(a.getaddressbalance(alice)["balance"]) == 3


def test_mixed_modes_line_converges_and_keeps_the_invariant(net):
    nodes = [net.add(m) for m in ("ffi", "grpc", "jsonrpc", "ffi")]
    for left, right in zip(nodes, nodes[1:]):
        connect(right, left)
    n0, n3 = nodes[0], nodes[3]
    addr0 = n0.getnewaddress()
    n0.generatetoaddress(3, addr0)
    sync_blocks(nodes)
    n3.generatetoaddress(2, n3.getnewaddress())
    sync_blocks(nodes)
    # Deposit on node 0, meta transfer and withdrawal from node 0's wallet,
    # mined at the far end.
    meta, other = n0.getnewmetaaddress(), n0.getnewmetaaddress()
    n0.deposittometachain(addr0, meta, 10)
    sync_mempools(nodes)
    n3.generatetoaddress(1, n3.getnewaddress())
    sync_blocks(nodes)
    for n in nodes:
        invariant(n)
        assert int(n.getmetabalance(meta)["wei"]) == 10 * WEI_PER_COIN
    t = n0.metatransfer(meta, other, 4)  # into node 0's metachain pool; mined by node 0
    n0.generatetoaddress(1, addr0)
    sync_blocks(nodes)
    # Every node re-executed the EVM tx: same receipt, same state root.
    receipt = n0.getmetareceipt(t)
    assert receipt["status"], receipt
    for n in nodes:
        assert n.getmetareceipt(t) == receipt
        assert n.getmetachaininfo()["stateroot"] == n0.getmetachaininfo()["stateroot"]
    out = n3.getnewaddress()
    n0.withdrawfrommetachain(other, out, 3)
    sync_mempools(nodes)
    n3.generatetoaddress(1, out)
    sync_blocks(nodes)
    for n in nodes:
        info = invariant(n)
        assert int(n.getmetabalance(other)["wei"]) == 1 * WEI_PER_COIN
        assert D(info["lockbalance"]) == 7
        assert int(info["supplywei"]) + int(info["burnedwei"]) == 7 * WEI_PER_COIN
        assert int(info["burnedwei"]) == receipt["gasused"] * n.getmetablock(str(receipt["blocknumber"]))["basefee"]
    assert D(nodes[1].getaddressbalance(out)["balance"]) > 3 - D("0.001")


def test_initial_sync_of_a_thousand_blocks_and_a_kill_mid_sync(net):
    a = net.add("ffi")
    addr = a.getnewaddress()
    a.generatetoaddress(1000, addr)
    b = net.add("ffi")
    connect(b, a)
    # Kill b as soon as it has some blocks, then let it finish after a restart.
    wait_until(lambda: b.getblockcount() > 0, interval=0.005, what="b's first blocks")
    killed_at = b.getblockcount()
    b.kill()
    b.start().wait_for_rpc()
    assert b.getblockcount() >= killed_at
    connect(b, a)
    print(f"killed at height {killed_at} of 1000")
    sync_blocks([a, b], timeout=120)
    invariant(b)
    assert b.getmetachaininfo()["hash"] == a.getmetachaininfo()["hash"]


def test_partition_heals_by_reorg_and_the_metachain_follows(net):
    """Across a partition each side mines EVM txs; when it heals, the shorter
    side reorgs (depth 3): its contract storage and balances become the
    longer side's, and its own tx goes back to its pool and is mined later."""
    a, b = net.add("ffi"), net.add("jsonrpc")
    connect(b, a)
    addr = a.getnewaddress()
    a.generatetoaddress(2, addr)
    key = MetaKey(0x9A27)
    a.deposittometachain(addr, key.address, 5)
    a.generatetoaddress(1, addr)
    token = contracts.load("Token")
    deploy = key.sign_tx(eip1559(0, None, 0, token.deploy_data("P", "P", 1000), 2_000_000))
    a.sendrawmetatransaction("0x" + deploy.hex())
    a.generatetoaddress(2, addr)
    sync_blocks([a, b])
    address = b.getmetareceipt(tx_hash(deploy))["contractaddress"]
    x, y = MetaKey(0x9A28).address, MetaKey(0x9A29).address

    def tokens(node, holder):
        return int(node.getmetastorageat(address, "0x%064x" % contracts.erc20_balance_slot(holder)), 16)
    # The partition: a's network off (peers would otherwise reconnect from
    # their address books).
    a.setnetworkactive(False)
    wait_until(lambda: a.getconnectioncount() == 0 and b.getconnectioncount() == 0, what="the partition")
    on_a = key.sign_tx(eip1559(1, address, 0, token.encode_call("transfer", x, 10), 100_000))
    on_b = key.sign_tx(eip1559(1, address, 0, token.encode_call("transfer", y, 20), 100_000,
                               max_fee=20 * GWEI, max_priority_fee=2 * GWEI))
    a.sendrawmetatransaction("0x" + on_a.hex())
    b.sendrawmetatransaction("0x" + on_b.hex())
    later = key.sign_tx(eip1559(2, y, 777, b"", 21_000))
    a.generatetoaddress(3, a.getnewaddress())
    a.sendrawmetatransaction("0x" + later.hex())  # only a has it: pooled at the heal
    b.generatetoaddress(6, b.getnewaddress())
    assert (tokens(a, x), tokens(a, y), tokens(b, x), tokens(b, y)) == (10, 0, 0, 20)
    assert a.getbestblockhash() != b.getbestblockhash()
    a.setnetworkactive(True)
    connect(a, b)
    sync_blocks([a, b])
    assert a.getblockcount() == 11
    for n in (a, b):
        invariant(n)
    assert a.getmetachaininfo()["hash"] == b.getmetachaininfo()["hash"]
    assert a.getmetachaininfo()["stateroot"] == b.getmetachaininfo()["stateroot"]
    tips = {t["status"] for t in a.getchaintips()}
    assert "valid-fork" in tips
    # a follows b: x's tokens are gone, y has b's; a's transfer (nonce 1 is
    # used on this chain) is gone, its nonce-2 tx is still in a's pool.
    assert (tokens(a, x), tokens(a, y)) == (0, 20)
    mine, theirs = a.getmetabalance(key.address), b.getmetabalance(key.address)
    assert (mine["nonce"], mine["pendingnonce"], theirs["pendingnonce"]) == (2, 3, 2), (mine, theirs)
    assert mine["wei"] == theirs["wei"]
    for n in (a, b):
        with pytest.raises(Exception):
            n.getmetareceipt(tx_hash(on_a))
    a.generatetoaddress(1, addr)
    sync_blocks([a, b])
    for n in (a, b):
        invariant(n)
        assert n.getmetareceipt(tx_hash(later))["status"]
        assert int(n.getmetabalance(y)["wei"]) == 777 and tokens(n, y) == 20


def test_a_block_with_a_tampered_payload_gets_its_sender_banned(net):
    a = net.add("ffi")
    addr = a.getnewaddress()
    a.generatetoaddress(2, addr)
    tip = a.getbestblockhash()
    # A real next block, taken back with invalidateblock: its payload is genuine.
    h = a.generatetoaddress(1, addr)[0]
    block = CBlock.deserialize(bytes.fromhex(a.getblock(h, 0)))
    a.invalidateblock(h)
    assert a.getbestblockhash() == tip
    block.payload = block.payload[:-1] + bytes([block.payload[-1] ^ 1])
    block.rehash_and_solve()  # valid proof of work over the tampered payload
    honest = P2PConnection("127.0.0.1", a.p2p_port).connect()
    evil = P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.2").connect()
    evil.send_message(msg_block(block))
    evil.wait_for_disconnect(timeout=30)
    assert a.getbestblockhash() == tip
    assert "bad-payload" in a.debug_log
    assert any(entry["address"].startswith("127.0.0.2") for entry in a.listbanned())
    invariant(a)
    # The node keeps serving the honest peer, and refuses the banned address.
    honest.sync_with_ping()
    with pytest.raises(Exception):
        P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.2").connect(timeout=5)


def test_a_stalled_download_moves_to_another_peer(net):
    a = net.add("none")
    a.generatetoaddress(5, a.getnewaddress())
    headers = [CBlock.deserialize(bytes.fromhex(a.getblock(a.getblockhash(h), 0))).header for h in range(1, 6)]
    b = net.add("none")
    # A peer that announces the blocks and never delivers them.
    staller = P2PConnection("127.0.0.1", b.p2p_port, source="127.0.0.3").connect()
    staller.send_message(msg_headers(headers))
    asked = staller.wait_for("getdata", timeout=10)
    assert len(asked.items) == 5
    connect(b, a)
    # After the stall time-out the staller is dropped (not banned) and the
    # honest peer serves the blocks.
    staller.wait_for_disconnect(timeout=30)
    sync_blocks([a, b], timeout=30)
    assert b.listbanned() == []
    assert "stalled a block download" in b.debug_log


def test_headers_that_do_not_connect(net):
    a = net.add("none")
    a.generatetoaddress(3, a.getnewaddress())
    real = [CBlock.deserialize(bytes.fromhex(a.getblock(a.getblockhash(h), 0))).header for h in range(1, 4)]
    b = net.add("none")
    # Headers whose parent b does not know: b asks for headers instead (the
    # peer may be on another branch), and only a peer that never connects is
    # banned.
    orphan = real[1:]
    peer = P2PConnection("127.0.0.1", b.p2p_port, source="127.0.0.4").connect()
    peer.send_message(msg_headers(orphan))
    assert peer.wait_for("getheaders", timeout=10)
    assert b.listbanned() == []
    for _ in range(11):
        peer.send_message(msg_headers(orphan))
    peer.wait_for_disconnect(timeout=10)
    assert any(e["address"].startswith("127.0.0.4") for e in b.listbanned())
    # Headers that do not chain within one message: banned at once.
    gap = P2PConnection("127.0.0.1", b.p2p_port, source="127.0.0.5").connect()
    gap.send_message(msg_headers([real[0], real[2]]))
    gap.wait_for_disconnect(timeout=10)
    assert any(e["address"].startswith("127.0.0.5") for e in b.listbanned())
    # None of it touched the chain, and the real headers still sync b.
    assert b.getblockcount() == 0 and b.getchaintips()[0]["height"] == 0
    honest = P2PConnection("127.0.0.1", b.p2p_port).connect()
    honest.send_message(msg_headers(real))
    assert len(honest.wait_for("getdata", timeout=10).items) == 3


def test_addresses_travel_so_nodes_find_each_other(net):
    """A announces itself to B when it connects; C, connecting to B later,
    learns A's address from B and opens a connection to A on its own."""
    a, b, c = net.add("none"), net.add("none"), net.add("none")
    connect(a, b)
    connect(c, b)
    wait_until(lambda: any(p["addr"] == f"127.0.0.1:{a.p2p_port}" and not p["inbound"] for p in c.getpeerinfo()),
               timeout=30, what="c connected to a, an address it learned from b")
    # And a new block still reaches everyone.
    a.generatetoaddress(1, a.getnewaddress())
    sync_blocks([a, b, c])


def test_setban_takes_subnets(net):
    a = net.add("none")
    a.setban("127.0.0.7/31", "add", 600)
    assert [e["address"] for e in a.listbanned()] == ["127.0.0.6/31"]
    with pytest.raises(Exception):
        P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.7").connect(timeout=5)
    with pytest.raises(Exception):
        P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.6").connect(timeout=5)
    P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.5").connect().sync_with_ping()
    for bad in ("127.0.0.6/33", "127.0.0.6/", "127.0.0.6/x"):
        with pytest.raises(Exception) as e:
            a.setban(bad, "add")
        assert "-30" in str(e.value)
    assert [e["address"] for e in a.listbanned()] == ["127.0.0.6/31"]
    a.setban("127.0.0.6/31", "remove")
    assert a.listbanned() == []
    P2PConnection("127.0.0.1", a.p2p_port, source="127.0.0.7").connect().sync_with_ping()
