"""Only a DepositToMetachain may pay the lock address: the wallet RPCs, the
miner, sendrawtransaction and block validation all refuse anything else, and
a refusal changes nothing. Blocks and txs are built here with
framework/messages.py, which these tests also check against a real node.

Modes: "native" is a defid without a metachain (blocks carry no payload);
ffi, grpc and jsonrpc as in test_metachain.py. With a metachain a hand-built
block needs a valid payload: the tests mine a real block, invalidate it (the
metachain disconnects it), and build their own blocks on the same parent with
that block's time and payload. The payload commits only to the block's
Deposit/Withdraw txs, so a different coinbase or an extra Transfer leaves it
valid; a positive control with a normal address is accepted."""
import pytest

from conftest import MODES
from framework.messages import (COIN, REGTEST_REWARD, CBlock, CBlockHeader, NativeKey, TX_DEPOSIT, coinbase,
                                check_proof_of_work, compact_target, merkle_root, payload_hash, sha256d, transfer)
from framework.meta_key import WEI_PER_COIN, MetaKey, txid as raw_txid, withdrawal
from framework.metachain import FEE, FEE_SAT, D, assert_invariant as invariant, mine
from framework.test_node import RPCError, TestNode

ALL_MODES = ["native", *MODES]


def start(mode, node_in_mode, defid_bin, tmp_path, index=0):
    if mode == "native":
        node = TestNode(defid_bin, str(tmp_path / f"native{index}")).start()
        return node, None
    return node_in_mode(mode, index)


@pytest.fixture
def funded(node_in_mode, defid_bin, tmp_path):
    """A node in `mode` with 100 coins on `addr`; with a metachain, 10 of them
    deposited to the wallet meta address `meta`."""
    started = []

    def make(mode):
        node, server = start(mode, node_in_mode, defid_bin, tmp_path, len(started))
        started.append(node)
        node.wait_for_rpc()
        addr = node.getnewaddress()
        mine(node, 2, addr)
        meta = None
        if mode != "native":
            meta = node.getnewmetaaddress()
            node.deposittometachain(addr, meta, 10)
            mine(node)
        lock = node.getblockchaininfo()["lockaddress"]
        return node, server, addr, meta, lock
    yield make
    for n in started:
        n.kill()


def snapshot(node, addr, meta, lock):
    """Everything a refused call must leave alone."""
    state = {
        "tip": node.getbestblockhash(),
        "height": node.getblockcount(),
        "mempool": sorted(node.getrawmempool()),
        "wallet": node.getbalance(),
        "addr": node.getaddressbalance(addr),
        "lock": node.getaddressbalance(lock),
    }
    if meta:
        state["metachain"] = node.getmetachaininfo()
        state["meta"] = node.getmetabalance(meta)
    return state


def mentions_lock(message, lock):
    return lock in message or "lock address" in message.lower()


def funded_key(node, addr, coins=5, secret=0x51DE):
    """A native key held by the test, with `coins` on its address."""
    key = NativeKey(secret)
    node.sendtoaddress(key.address, coins)
    mine(node, 1, addr)
    assert D(node.getaddressbalance(key.address)["balance"]) == coins
    return key


# framework/messages.py against a real node


def test_messages_round_trip_blocks_and_signed_txs(funded):
    node, _, addr, meta, lock = funded("ffi")
    key = funded_key(node, addr)
    # A signed Transfer and a signed Deposit, built here: accepted with our txids.
    t1 = transfer(key, addr, 1 * COIN, FEE_SAT, 0)
    t2 = transfer(key, meta, 2 * COIN, FEE_SAT, 1, type=TX_DEPOSIT)
    assert node.decoderawtransaction(t1.serialize().hex())["txid"] == t1.txid
    decoded = node.decoderawtransaction(t2.serialize().hex())
    assert (decoded["type"], decoded["from"], decoded["to"], decoded["nonce"], decoded["size"]) == \
        ("deposittometachain", key.address, meta, 1, len(t2.serialize()))
    assert node.sendrawtransaction(t1.serialize().hex()) == t1.txid
    assert node.sendrawtransaction(t2.serialize().hex()) == t2.txid
    tip = mine(node, 1, addr)[0]
    assert D(node.getaddressbalance(key.address)["balance"]) == 5 - 3 - 2 * FEE
    assert int(node.getmetabalance(meta)["wei"]) == 12 * WEI_PER_COIN
    # Every block so far, byte for byte: header, txs, merkle root, payload, PoW.
    for height in range(node.getblockcount() + 1):
        h = node.getblockhash(height)
        raw = bytes.fromhex(node.getblock(h, 0))
        block = CBlock.deserialize(raw)
        assert block.serialize() == raw
        assert block.hash_hex == h
        assert block.compute_merkle_root() == block.header.merkle_root
        assert block.header.payload_hash == payload_hash(block.payload)
        assert check_proof_of_work(block.hash, block.header.bits)
        verbose = node.getblock(h, 2)
        assert [tx.txid for tx in block.vtx] == [t["txid"] for t in verbose["tx"]]
        assert (verbose["merkleroot"], verbose["payloadhash"], verbose["payloadsize"], verbose["time"]) == \
            (block.header.merkle_root.hex(), block.header.payload_hash.hex(), len(block.payload),
             block.header.time)
        assert CBlockHeader.deserialize(block.header.serialize()).serialize() == block.header.serialize()
        if height == 0:
            assert block.payload == b"" and block.header.payload_hash == bytes(32)
        else:
            assert block.vtx[0].nonce == height and len(block.payload) > 0
    assert [tx.txid for tx in CBlock.deserialize(bytes.fromhex(node.getblock(tip, 0))).vtx[1:]] == \
        [t1.txid, t2.txid]
    # The merkle root of odd and even levels, and the target of the regtest bits.
    a, b, c = (bytes([i]) * 32 for i in (1, 2, 3))
    assert merkle_root([a]) == a and merkle_root([]) == bytes(32)
    assert merkle_root([a, b, c]) == sha256d(sha256d(a + b) + sha256d(c + c))
    assert compact_target(0x207FFFFF) == b"\x7f\xff\xff" + bytes(29)


def test_hand_built_block_is_accepted_on_a_native_node(funded):
    """Positive control for the block tests: a block built entirely here."""
    node, _, addr, _, lock = funded("native")
    key = funded_key(node, addr)
    block = _block(node, addr, [transfer(key, addr, COIN, FEE_SAT, 0)], *_template(node, None))
    assert node.submitblock(block.serialize().hex()) is None
    assert node.getbestblockhash() == block.hash_hex
    assert D(node.getaddressbalance(key.address)["balance"]) == 5 - 1 - FEE
    invariant(node)


# RPCs


@pytest.mark.parametrize("mode", ALL_MODES)
def test_rpcs_refuse_to_pay_the_lock_address(funded, mode):
    node, _, addr, meta, lock = funded(mode)
    assert lock.startswith("dfrt1")
    before = snapshot(node, addr, meta, lock)
    calls = [("sendtoaddress", lock, 1), ("generatetoaddress", 1, lock)]
    if meta:
        calls.append(("withdrawfrommetachain", meta, lock, 2))
    for call in calls:
        with pytest.raises(RPCError) as e:
            node.rpc(*call)
        assert mentions_lock(e.value.message, lock), (call, e.value.code, e.value.message)
        assert snapshot(node, addr, meta, lock) == before, call
    invariant(node)
    # The refusals took no nonce: the next calls work as ever.
    out = node.getnewaddress()
    node.sendtoaddress(out, 1)
    if meta:
        node.withdrawfrommetachain(meta, out, 2)
    mine(node, 1, addr)
    assert node.getrawmempool() == []
    assert D(node.getaddressbalance(out)["balance"]) == (1 + 2 - FEE if meta else 1)
    invariant(node)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_raw_txs_paying_the_lock_address_are_refused(funded, mode):
    node, _, addr, meta, lock = funded(mode)
    key = funded_key(node, addr)
    before = snapshot(node, addr, meta, lock)
    bad = transfer(key, lock, COIN, FEE_SAT, 0)
    with pytest.raises(RPCError) as e:
        node.sendrawtransaction(bad.serialize().hex())
    assert e.value.code == -26 and mentions_lock(e.value.message, lock), e.value.message
    assert snapshot(node, addr, meta, lock) == before
    if meta:
        # A withdrawal to the lock address, signed by a funded meta key.
        mkey = MetaKey(0x10C4)
        node.deposittometachain(addr, mkey.address, 3)
        mine(node, 1, addr)
        before = snapshot(node, addr, meta, lock)
        w = withdrawal(mkey.address, lock, COIN, FEE_SAT, 0, mkey.sign_withdrawal(lock, COIN, 0))
        with pytest.raises(RPCError) as e:
            node.sendrawtransaction(w.hex())
        assert e.value.code == -26 and mentions_lock(e.value.message, lock), e.value.message
        assert snapshot(node, addr, meta, lock) == before
        assert raw_txid(w) not in node.getrawmempool()
    # The same key and nonce paying a normal address are accepted.
    good = transfer(key, addr, COIN, FEE_SAT, 0)
    assert node.sendrawtransaction(good.serialize().hex()) == good.txid
    mine(node, 1, addr)
    assert D(node.getaddressbalance(key.address)["balance"]) == 5 - 1 - FEE
    invariant(node)


# Blocks


def _template(node, meta):
    """(prev, height, time, payload) for a block on the tip. With a metachain:
    a real block is mined, then invalidated, and its parent, height, time and
    payload are reused (the metachain disconnected that payload)."""
    if not meta:
        tip = node.getblock(node.getbestblockhash())
        return bytes.fromhex(tip["hash"]), tip["height"] + 1, tip["time"], b""
    assert node.getrawmempool() == []
    mined = node.generatetoaddress(1, node.getnewaddress())[0]
    real = CBlock.deserialize(bytes.fromhex(node.getblock(mined, 0)))
    assert [tx.type for tx in real.vtx] == [0] and real.payload
    node.invalidateblock(mined)
    assert node.getbestblockhash() == real.header.prev.hex()
    invariant(node)
    return real.header.prev, real.header.height, real.header.time, real.payload


def _block(node, coinbase_to, txs, prev, height, time, payload):
    fees = sum(tx.fee for tx in txs)
    header = CBlockHeader(prev=prev, height=height, time=time)
    return CBlock(header, [coinbase(coinbase_to, REGTEST_REWARD + fees, height), *txs], payload).rehash_and_solve()


@pytest.mark.parametrize("mode", ALL_MODES)
def test_blocks_paying_the_lock_address_are_rejected(funded, mode):
    node, _, addr, meta, lock = funded(mode)
    key = funded_key(node, addr)
    template = _template(node, meta)
    before = snapshot(node, addr, meta, lock)
    cases = {
        "coinbase to the lock": _block(node, lock, [], *template),
        "transfer to the lock": _block(node, addr, [transfer(key, lock, COIN, FEE_SAT, 0)], *template),
    }
    for what, block in cases.items():
        assert check_proof_of_work(block.hash, block.header.bits)
        reply = node.submitblock(block.serialize().hex())
        assert isinstance(reply, str) and reply, (what, reply)
        assert mentions_lock(reply, lock), (what, reply)
        assert snapshot(node, addr, meta, lock) == before, what
        invariant(node)
    # Positive control: the same construction paying a normal address connects,
    # payload and all.
    good = _block(node, addr, [transfer(key, addr, COIN, FEE_SAT, 0)], *template)
    assert node.submitblock(good.serialize().hex()) is None
    assert node.getbestblockhash() == good.hash_hex
    assert D(node.getaddressbalance(key.address)["balance"]) == 5 - 1 - FEE
    invariant(node)
