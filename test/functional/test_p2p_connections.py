"""The connection layer against real defid processes (docs/p2p.md, docs/node.md
"Peers"): the handshake and the peer RPCs, pings, time-outs, two nodes joined
with -connect (also from defi.conf), hostile peers (each from its own
127.0.0.x, so a ban hits only that one), bans and the address book across a
restart, and the addnode / disconnectnode / setban / setnetworkactive RPCs."""
import os
import socket
import struct
import time

import pytest

from framework.messages import CBlock
from framework.p2p import (MAGIC, MAX_INV, MAX_PAYLOAD_SIZE, NODE_NETWORK, PROTOCOL_VERSION, NetAddress,
                           P2PConnection, checksum, encode, frame, msg_addr, msg_block, msg_getaddr, msg_getheaders,
                           msg_ping, msg_version)
from framework.test_node import RPCError, TestNode, connect_nodes, free_port
from framework.util import wait_until

REGTEST = MAGIC["regtest"]


@pytest.fixture
def start(defid_bin, tmp_path):
    """Starts a defid with extra args; all are killed at teardown."""
    nodes = []

    def go(*args):
        n = TestNode(defid_bin, str(tmp_path / f"n{len(nodes)}"), list(args)).start().wait_for_rpc()
        nodes.append(n)
        return n
    yield go
    for n in nodes:
        n.kill()


def peer(node, source=None, **kw):
    """A test peer that has finished the handshake with `node`."""
    return P2PConnection("127.0.0.1", node.p2pport, REGTEST, source=source, **kw).connect()


def rpc_error(f, *args):
    with pytest.raises(RPCError) as e:
        f(*args)
    return e.value


def refused(node, source):
    """Whether `node` closes a connection from `source` before answering a version."""
    p = P2PConnection("127.0.0.1", node.p2pport, REGTEST, source=source)
    try:
        p.connect(timeout=5)
    except (OSError, TimeoutError):
        return True
    finally:
        p.close()
    return False


class MutePeer(P2PConnection):
    """Never answers a ping."""

    def _on_message(self, command, msg):
        if command == "version":
            super()._on_message(command, msg)
            return
        with self._cond:
            self.messages.setdefault(command, []).append(msg)
            self._cond.notify_all()


def test_handshake_and_peer_rpcs(start):
    node = start()
    node.generatetoaddress(3, node.getnewaddress())
    p = peer(node, start_height=7)
    v = p.messages["version"][0]
    assert v.version == PROTOCOL_VERSION and v.services & NODE_NETWORK and v.relay
    assert v.user_agent == node.getnetworkinfo()["subversion"] and v.user_agent.startswith("/defid:")
    assert v.start_height == 3 and v.nonce != 0
    assert (v.addr_recv.ip, v.addr_recv.port) == ("127.0.0.1", p.sock.getsockname()[1])  # us, as the node sees us
    # The node pings at once after the handshake; the test peer answers.
    assert p.wait_for("ping").nonce != 0
    (info,) = wait_until(lambda: [x for x in node.getpeerinfo() if "pingtime" in x], what="a ping time")
    assert info["inbound"] is True and info["connection_type"] == "inbound"
    assert info["addr"] == f"127.0.0.1:{p.sock.getsockname()[1]}"
    assert info["version"] == PROTOCOL_VERSION and info["subver"] == "/defi-test-peer:0.1/"
    assert info["startingheight"] == 7
    assert info["synced_headers"] == -1 and info["synced_blocks"] == -1 and info["inflight"] == 0
    assert info["bytessent"] > 0 and info["bytesrecv"] > 0
    assert abs(info["conntime"] - time.time()) < 60 and 0 <= info["pingtime"] < 5
    assert node.getconnectioncount() == 1
    net = node.getnetworkinfo()
    major, minor, patch = map(int, net["subversion"].strip("/").split(":")[1].split("."))
    assert net["version"] == 10000 * major + 100 * minor + patch
    assert net["protocolversion"] == PROTOCOL_VERSION and net["localservices"] == "0000000000000001"
    assert (net["connections"], net["connections_in"], net["connections_out"]) == (1, 1, 0)
    assert net["networkactive"] is True and net["listening"] is True and net["port"] == node.p2pport
    totals = node.getnettotals()
    assert totals["totalbytesrecv"] >= info["bytesrecv"] and totals["totalbytessent"] >= info["bytessent"]
    assert abs(totals["timemillis"] / 1000 - time.time()) < 60
    # Pings are answered, in order with what came before.
    p.sync_with_ping()
    # `ping` pings every peer at once.
    node.ping()
    assert p.wait_for("ping", timeout=5).nonce != 0
    # getaddr is answered (once) with the address book: empty here.
    p.send_message(msg_getaddr())
    assert p.wait_for("addr").addrs == []
    p.close()
    wait_until(lambda: node.getconnectioncount() == 0, timeout=10, what="the peer gone")


def test_handshake_rules_and_time_outs(start):
    node = start("-peertimeout=2")
    # Time-outs first, all at once: a socket that never sends a version, a
    # peer silent after the handshake, and one that talks (pings) but never
    # answers the node's ping.
    silent = socket.create_connection(("127.0.0.1", node.p2pport), source_address=("127.0.0.2", 0))
    mute = MutePeer("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.3").connect()
    chatty = MutePeer("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.8").connect()
    t0 = time.monotonic()
    while not chatty.closed and time.monotonic() - t0 < 10:
        try:
            chatty.send_message(msg_ping(7))
        except OSError:
            break
        time.sleep(0.3)
    silent.settimeout(10)
    assert silent.recv(100) == b""  # the node waits for our version, then gives up
    mute.wait_for_disconnect(10)
    chatty.wait_for_disconnect(10)
    assert time.monotonic() - t0 < 8
    assert len(chatty.messages.get("pong", [])) >= 3  # its pings were answered all along
    silent.close()
    node.wait_for_log("no handshake within 2 s")
    node.wait_for_log("nothing received for 2 s")
    node.wait_for_log("no pong within 2 s")

    # Anything before version: disconnected.
    p = P2PConnection("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.4").connect(handshake=False)
    p.send_message(msg_ping(1))
    p.wait_for_disconnect(5)
    # A second version.
    p = peer(node, source="127.0.0.5")
    p.send_message(p.version_message())
    p.wait_for_disconnect(5)
    # A message between version and verack.
    p = P2PConnection("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.6").connect(handshake=False)
    p.send_raw(encode(REGTEST, p.version_message()) + encode(REGTEST, msg_getheaders()))
    p.wait_for_disconnect(5)
    # A protocol version below 70001.
    p = P2PConnection("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.7").connect(handshake=False)
    p.send_message(msg_version(version=70000, nonce=5))
    p.wait_for_disconnect(5)
    node.wait_for_log("protocol version 70000 is below 70001")
    # None of these is banned: breaking the handshake is not misbehaviour.
    assert node.listbanned() == []
    assert not refused(node, "127.0.0.4")


def test_two_nodes_joined_by_connect(start, defid_bin, tmp_path):
    a = start()
    c = start()
    # -connect twice, from defi.conf: both are kept.
    bdir = tmp_path / "b"
    bdir.mkdir()
    (bdir / "defi.conf").write_text(f"connect=127.0.0.1:{a.p2pport}\nconnect=127.0.0.1:{c.p2pport}\n")
    b = TestNode(defid_bin, str(bdir)).start().wait_for_rpc()
    try:
        def joined():
            peers = b.getpeerinfo()
            return len(peers) == 2 and all(x["version"] for x in peers) and a.getconnectioncount() == 1
        wait_until(joined, timeout=15, what="b connected to a and c")
        out = {x["addr"]: x for x in b.getpeerinfo()}
        assert set(out) == {f"127.0.0.1:{a.p2pport}", f"127.0.0.1:{c.p2pport}"}
        for x in out.values():
            assert x["inbound"] is False and x["connection_type"] == "manual" and x["subver"].startswith("/defid:")
        (ina,) = a.getpeerinfo()
        assert ina["inbound"] is True and ina["subver"].startswith("/defid:")
        assert (b.getnetworkinfo()["connections_out"], a.getnetworkinfo()["connections_in"]) == (2, 1)
        # -connect turns -listen off by default.
        assert b.getnetworkinfo()["listening"] is False
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", b.p2pport), timeout=5).close()
        # A dropped -connect peer is reconnected.
        old = ina["id"]
        a.disconnectnode("", old)
        wait_until(lambda: [x for x in a.getpeerinfo() if x["id"] != old and x["version"]], timeout=15,
                   what="b reconnecting to a")
        # connect_nodes (framework) joins two nodes by addnode onetry.
        assert connect_nodes(c, a) is not None
        assert a.getconnectioncount() == 2
    finally:
        b.kill()


def test_a_connection_to_itself_is_dropped(start):
    node = start()
    node.addnode(f"127.0.0.1:{node.p2pport}", "onetry")
    node.wait_for_log("connected to itself", timeout=15)
    wait_until(lambda: node.getconnectioncount() == 0, timeout=10, what="both ends closed")
    assert node.listbanned() == []


def oversized_header():
    return REGTEST + b"block".ljust(12, b"\0") + struct.pack("<I", MAX_PAYLOAD_SIZE + 1) + checksum(b"")


def bad_command():
    return REGTEST + b"pi ng".ljust(12, b"\0") + struct.pack("<I", 0) + checksum(b"")


def bad_checksum():
    payload = struct.pack("<Q", 1)
    return REGTEST + b"ping".ljust(12, b"\0") + struct.pack("<I", len(payload)) + b"\0\0\0\0" + payload


def inv_flood():
    n = MAX_INV + 1
    return frame(REGTEST, "inv", struct.pack("<I", n) + (struct.pack("<I", 1) + bytes(32)) * n)


# (what, bytes sent after the handshake, banned)
HOSTILE = [
    ("bad magic", lambda: frame(MAGIC["main"], "ping", struct.pack("<Q", 1)), False),
    ("bad checksum", bad_checksum, True),
    ("oversized length", oversized_header, True),
    ("bad command bytes", bad_command, True),
    ("malformed getheaders", lambda: frame(REGTEST, "getheaders", b"\x01\x02"), True),
    ("malformed ping", lambda: frame(REGTEST, "ping", b"\x01" * 7), True),
    ("verack with a payload", lambda: frame(REGTEST, "verack", b"\x00"), True),
    ("inv over 50,000 entries", inv_flood, True),
    ("addr over 1,000 entries", lambda: frame(REGTEST, "addr", struct.pack("<I", 1001) + bytes(30 * 1001)), True),
]


def test_hostile_peers(start):
    node = start()
    node.generatetoaddress(2, node.getnewaddress())
    tip, height = node.getbestblockhash(), node.getblockcount()
    honest = peer(node)
    for i, (what, data, banned) in enumerate(HOSTILE):
        ip = f"127.0.0.{10 + i}"
        p = peer(node, source=ip)
        p.send_raw(data())
        p.wait_for_disconnect(10)
        bans = {b["address"]: b for b in node.listbanned()}
        assert (ip in bans) == banned, (what, bans)
        if banned:
            assert bans[ip]["ban_duration"] == 86400 and bans[ip]["reason"], bans[ip]
            assert refused(node, ip), what
    # An unknown command is ignored: the peer stays.
    p = peer(node, source="127.0.0.40")
    p.send_raw(frame(REGTEST, "futurecmd", b"anything"))
    p.sync_with_ping()
    assert not p.closed
    # The honest peer was served throughout, and nothing in the chain changed.
    honest.sync_with_ping()
    honest.send_message(msg_getaddr())
    honest.wait_for("addr")
    assert not honest.closed
    assert len(node.getpeerinfo()) == 2
    assert (node.getbestblockhash(), node.getblockcount()) == (tip, height)
    assert node.getnetworkinfo()["networkactive"]
    log = node.debug_log
    for text in ("bad magic", "bad checksum", "oversized", "bad command", "malformed"):
        assert text in log, text


def test_bans_and_address_book_survive_a_restart(start):
    node = start()
    now = int(time.time())
    sent = [(now - 60, NetAddress(f"192.0.2.{i}", 8555 + i, NODE_NETWORK)) for i in range(1, 6)]
    p = peer(node, source="127.0.0.2")
    p.send_message(msg_addr(sent))
    p.sync_with_ping()
    q = peer(node, source="127.0.0.3")
    q.send_message(msg_getaddr())
    known = {(a.ip, a.port) for _, a in q.wait_for("addr").addrs}
    assert {(a.ip, a.port) for _, a in sent} <= known
    node.setban("127.0.0.9", "add", 3600)
    node.setban("2001:db8::5", "add")
    bans = sorted((b["address"], b["banned_until"]) for b in node.listbanned())
    assert [b[0] for b in bans] == ["127.0.0.9", "2001:db8::5"]

    assert node.stop() == "defid stopping" and node.wait_for_exit() == 0
    assert os.path.exists(os.path.join(node.chaindir, "banlist.json"))
    assert os.path.exists(os.path.join(node.chaindir, "peers.json"))
    node.start().wait_for_rpc()

    assert sorted((b["address"], b["banned_until"]) for b in node.listbanned()) == bans
    assert refused(node, "127.0.0.9")
    q = peer(node, source="127.0.0.3")
    q.send_message(msg_getaddr())
    assert {(a.ip, a.port) for _, a in sent} <= {(a.ip, a.port) for _, a in q.wait_for("addr").addrs}


def test_ban_rpcs(start):
    node = start()
    p = peer(node, source="127.0.0.5")
    node.setban("127.0.0.5", "add")
    p.wait_for_disconnect(5)  # a ban disconnects the address's peers
    (b,) = node.listbanned()
    assert b["address"] == "127.0.0.5" and b["ban_duration"] == 86400 and 0 < b["time_remaining"] <= 86400
    assert b["reason"] == "manually added"
    assert refused(node, "127.0.0.5")
    assert rpc_error(node.setban, "127.0.0.5", "add").code == -23
    assert rpc_error(node.setban, "not-an-ip", "add").code == -30
    assert rpc_error(node.setban, "127.0.0.6", "remove").code == -30
    assert rpc_error(node.setban, "127.0.0.6", "ban").code == -8
    node.setban("127.0.0.6", "add", 100)
    until = int(time.time()) + 500
    node.setban("127.0.0.7", "add", until, True)
    assert rpc_error(node.setban, "127.0.0.8", "add", 1000, True).code == -8  # absolute, in the past
    bans = {b["address"]: b for b in node.listbanned()}
    assert bans["127.0.0.6"]["ban_duration"] == 100 and bans["127.0.0.7"]["banned_until"] == until
    node.setban("::ffff:127.0.0.5", "remove")  # the same address, written as IPv4-mapped IPv6
    assert "127.0.0.5" not in {b["address"] for b in node.listbanned()}
    assert not refused(node, "127.0.0.5")
    node.clearbanned()
    assert node.listbanned() == []
    assert not refused(node, "127.0.0.6")


def test_addnode_disconnectnode_and_setnetworkactive(start):
    # No automatic connections either way: b would find a again in its address
    # book, and a learns b's address from b's self-announcement.
    a = start("-noconnect")
    b = start("-noconnect")
    target = f"127.0.0.1:{a.p2pport}"
    b.addnode(target, "add")
    assert rpc_error(b.addnode, target, "add").code == -23
    assert rpc_error(b.addnode, "a b", "add").code == -8
    assert rpc_error(b.addnode, target, "join").code == -8
    wait_until(lambda: b.getaddednodeinfo()[0]["connected"], timeout=15, what="the added node connected")
    (info,) = b.getaddednodeinfo(target)
    assert info["addednode"] == target and info["addresses"] == [{"address": target, "connected": "outbound"}]
    assert rpc_error(b.getaddednodeinfo, "127.0.0.1:1").code == -24
    wait_until(lambda: all(x["version"] for x in b.getpeerinfo()), what="the handshake")

    # An added node dropped is reconnected.
    (old,) = b.getpeerinfo()
    b.disconnectnode(target)
    wait_until(lambda: [x for x in b.getpeerinfo() if x["id"] != old["id"] and x["version"]], timeout=15,
               what="the added node reconnected")
    assert rpc_error(b.disconnectnode, "127.0.0.1:1").code == -29
    assert rpc_error(b.disconnectnode, "", 99999).code == -29
    assert rpc_error(b.disconnectnode).code == -32602
    # Removed, it stays away.
    b.addnode(target, "remove")
    assert rpc_error(b.addnode, target, "remove").code == -24
    (current,) = b.getpeerinfo()
    b.disconnectnode("", current["id"])
    wait_until(lambda: b.getconnectioncount() == 0, what="disconnected")
    time.sleep(1.5)
    assert b.getconnectioncount() == 0 and b.getaddednodeinfo() == []
    # onetry: one connection, not kept.
    b.addnode(target, "onetry")
    wait_until(lambda: b.getconnectioncount() == 1, timeout=15, what="the onetry connection")
    assert b.getaddednodeinfo() == []

    # Network off: every peer goes, none gets in; on again: they do.
    assert a.setnetworkactive(False) is False
    wait_until(lambda: a.getconnectioncount() == 0 and b.getconnectioncount() == 0, what="all disconnected")
    assert a.getnetworkinfo()["networkactive"] is False
    assert refused(a, "127.0.0.2")
    assert a.setnetworkactive(True) is True
    p = peer(a, source="127.0.0.2")
    assert a.getconnectioncount() == 1
    p.close()


def test_inbound_slots_are_limited(start):
    node = start("-maxconnections=10")  # 8 automatic outbound slots, 2 inbound
    peers = [peer(node, source=f"127.0.0.{20 + i}") for i in range(2)]
    wait_until(lambda: sum("pingtime" in x for x in node.getpeerinfo()) == 2, what="both pinged")
    third = P2PConnection("127.0.0.1", node.p2pport, REGTEST, source="127.0.0.22")
    try:
        third.connect(timeout=5)
    except (OSError, TimeoutError):
        pass
    # Both first peers have measured pings, so they are protected: the newcomer is refused.
    wait_until(lambda: third.closed, timeout=10, what="the third peer refused")
    assert node.getconnectioncount() == 2 and not any(p.closed for p in peers)
    node.wait_for_log("inbound slots full (2)")


def quiet_peers(node, sources):
    """Peers that never answer pings, so none is protected for a fast ping;
    connected one after another, oldest first."""
    peers = []
    for s in sources:
        peers.append(peer(node, source=s, answer_pings=False))
        wait_until(lambda: node.getconnectioncount() == len(peers), what=f"peer from {s} counted")
    return peers


def test_eviction_takes_the_youngest_of_the_most_connected_address(start):
    node = start("-maxconnections=14")  # 8 automatic outbound slots, 6 inbound
    a1, a2, b1, b2, b3, c1 = quiet_peers(node, ["127.0.0.30", "127.0.0.30", "127.0.0.31", "127.0.0.31",
                                                "127.0.0.31", "127.0.0.32"])
    # The older half (a1, a2, b1) is protected; of b2, b3 and c1, 127.0.0.31
    # has the most connections and b3 is its youngest. (c1 is the youngest of all.)
    newcomer = peer(node, source="127.0.0.33", answer_pings=False)
    b3.wait_for_disconnect(timeout=10)
    assert not any(p.closed for p in (a1, a2, b1, b2, c1, newcomer))
    assert node.getconnectioncount() == 6
    node.wait_for_log("evicted to make room for a new inbound connection")


def test_eviction_spares_a_peer_that_gave_a_new_block(start):
    node = start("-maxconnections=14")
    other = start()  # not connected: mines the block a peer hands over
    block_hash = other.generatetoaddress(1, other.getnewaddress())[0]
    block = CBlock.deserialize(bytes.fromhex(other.getblock(block_hash, 0)))
    peers = quiet_peers(node, [f"127.0.0.{40 + i}" for i in range(6)])
    # The youngest would go, but it gives the node a block it did not have.
    peers[5].send_message(msg_block(block))
    wait_until(lambda: node.getbestblockhash() == block_hash, what="the block accepted")
    newcomer = peer(node, source="127.0.0.46", answer_pings=False)
    # Older half of the other five protected; of the three left (all single
    # connections) the youngest goes.
    peers[4].wait_for_disconnect(timeout=10)
    assert not any(p.closed for p in peers[:4] + [peers[5], newcomer])


def test_bad_network_options(run_defid, tmp_path, start):
    for arg, text in [("-maxconnections=abc", "-maxconnections=abc"), ("-maxconnections=-1", "-maxconnections"),
                      ("-port=0", "-port=0"), ("-port=65536", "-port=65536"), ("-peertimeout=0", "-peertimeout"),
                      ("-bantime=1.5", "-bantime"), ("-pinginterval=x", "-pinginterval"),
                      ("-connect=127.0.0.1:99999", "-connect=127.0.0.1:99999"), ("-addnode=:5", "-addnode=:5"),
                      ("-bind=localhost", "-bind=localhost"), ("-bind=1.2.3.4:0", "-bind=1.2.3.4:0")]:
        d = tmp_path / "bad"
        out = run_defid("-regtest", f"-datadir={d}", arg)
        assert out.returncode != 0 and text in out.stderr, (arg, out.stderr)
        assert not d.exists(), arg
    # A port in use stops the node with a clear error.
    node = start()
    out = run_defid("-regtest", f"-datadir={tmp_path / 'busy'}", f"-port={node.p2pport}", "-bind=127.0.0.1",
                    f"-rpcport={free_port()}", "-noprinttoconsole")
    assert out.returncode != 0 and "Address already in use" in out.stderr, out.stderr


def test_a_peer_the_operator_names_is_dialled_even_if_banned(start):
    a, b = start(), start()
    a.setban("127.0.0.1", "add")
    assert refused(a, "127.0.0.1")
    a.addnode(f"127.0.0.1:{b.p2pport}", "onetry")
    wait_until(lambda: a.getconnectioncount() == 1, what="the named peer connected")
    assert [p["inbound"] for p in a.getpeerinfo()] == [False]
