"""The EVM metachain through defid, in every mode (ffi, grpc, jsonrpc), with
the lock invariant (lockbalance x 10^10 == supplywei + burnedwei) checked
after every block: deposits and their system-tx receipts, contracts deployed
and called with raw txs signed by eth-account (test/contracts), fees (base fee
burned, tip to the block's beneficiary), the EIP-1559 base fee and the block
gas limit, a block's tx and receipts roots and logs bloom recomputed here,
reverts, the block context the EVM sees, CREATE/CREATE2 and EIP-6780
SELFDESTRUCT, the txpool's refusals, withdrawals signed outside the wallet
(EIP-712), a reorg that restores contract storage, and kill -9 while blocks
with EVM txs are mined.

Most scenarios share one node per mode (each with its own keys, so they do not
depend on each other's order); the reorg and the kill -9 get their own."""
import signal
import threading
import time

import pytest
import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

from conftest import MODES
from framework import contracts
from framework.meta_key import (BASE_FEE_FLOOR, GWEI, REGTEST_CHAIN_ID, WEI_PER_COIN, WEI_PER_UNIT, MetaKey,
                                eip1559, eip2930, legacy, tx_hash)
from framework.metachain import (BLOCK_GAS_LIMIT, DEPOSIT_TX_TYPE, EMPTY_CODE_HASH, EMPTY_TRIE_ROOT, FEE, D,
                                 assert_invariant, deposit_tx_encoding, deposit_tx_hash, fee_of, h, logs_bloom,
                                 meta_wei, mine, native_balance, ordered_trie_root, pending_nonce, receipt_encoding,
                                 send_raw, storage_int, trie_root, units, withdrawal_tx_encoding)
from framework.metachaind import Metachaind
from framework.test_node import RPCError, TestNode

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO_ADDRESS = "0x" + "00" * 20


class Chain:
    """A defid in `mode` (with its metachaind) and a native address with coins to deposit."""

    def __init__(self, mode, defid_bin, metachaind_bin, tmp, secret_base):
        self.mode, self.server = mode, None
        args = ["-meta"]
        if mode != "ffi":
            self.server = Metachaind(metachaind_bin, str(tmp / "metachaind")).start()
            args = self.server.defid_args(mode)
        self.node = TestNode(defid_bin, str(tmp / "node"), args).start().wait_for_rpc()
        self.addr = self.node.getnewaddress()
        self.node._mining_address = self.addr  # rewards pay for the deposits
        mine(self.node, 3)
        self._secret = secret_base

    def stop(self):
        self.node.kill()
        if self.server:
            self.server.stop()

    def key(self):
        self._secret += 1
        return MetaKey(self._secret)

    def funded_key(self, coins=10):
        key = self.key()
        self.node.deposittometachain(self.addr, key.address, coins)
        self.mine()
        assert meta_wei(self.node, key.address) == coins * WEI_PER_COIN
        return key

    def mine(self, n=1):
        return mine(self.node, n)

    def send(self, key, to=None, value=0, data=b"", gas=21_000, nonce=None, **fees):
        """Signs an EIP-1559 tx at the sender's pending nonce and submits it; the tx hash."""
        nonce = pending_nonce(self.node, key.address) if nonce is None else nonce
        return send_raw(self.node, key.sign_tx(eip1559(nonce, to, value, data, gas, **fees)))

    def mined(self, txhash, success=True):
        r = self.node.getmetareceipt(txhash)
        assert h(r["txhash"]) == h(txhash) and r["status"] is success, r
        return r

    def deploy(self, key, name, *args, gas=3_000_000):
        """Deploys `name` in a block of its own; (address, receipt)."""
        nonce = pending_nonce(self.node, key.address)
        t = self.send(key, None, 0, contracts.deploy_data(name, *args), gas)
        self.mine()
        r = self.mined(t)
        assert r["contractaddress"] == contracts.create_address(key.address, nonce), r
        assert r["to"] == "" and r["from"] == key.address, r
        code = self.node.getmetacode(r["contractaddress"])
        assert code != "0x" and len(code) > 2, code
        return r["contractaddress"], r

    def call(self, key, to, contract, fn, *args, value=0, gas=500_000):
        """Sends a call of `fn` (not mined); the tx hash."""
        return self.send(key, to, value, contracts.encode_call(contract.abi, fn, *args), gas)

    def status(self):
        """The metachain's txpool size, where metachaind serves it (not in ffi mode)."""
        return self.server.call("meta_getStatus").get("mempoolSize", 0) if self.server else None

    def block(self, number=None):
        return self.node.getmetablock(str(self.node.getblockcount() if number is None else number))


@pytest.fixture(scope="module", params=MODES)
def chain(request, defid_bin, metachaind_bin, tmp_path_factory):
    c = Chain(request.param, defid_bin, metachaind_bin, tmp_path_factory.mktemp(f"evm_{request.param}"), 0xE000)
    yield c
    c.stop()


def events(contract, receipt):
    return [contract.decode_event(log["topics"], log["data"]) for log in receipt["logs"]]


def in_bloom(bloom_hex, item):
    """Whether the 2048-bit logs bloom has the three bits of `item` (bytes) set (Ethereum's M3:2048)."""
    bloom = bytes.fromhex(h(bloom_hex))
    digest = keccak(item)
    for i in (0, 2, 4):
        bit = (digest[i] << 8 | digest[i + 1]) & 2047
        if not bloom[255 - bit // 8] >> (bit % 8) & 1:
            return False
    return True


def wei_of(node, *addresses):
    return [meta_wei(node, a) for a in addresses]


# Deposits


def test_deposit_has_a_system_tx_receipt(chain):
    node = chain.node
    key = chain.key()
    before = assert_invariant(node)
    native_txid = node.deposittometachain(chain.addr, key.address, D("7.5"))
    [native_block] = chain.mine()
    wei = 75 * WEI_PER_COIN // 10
    bal = node.getmetabalance(key.address)
    assert (int(bal["wei"]), D(bal["balance"]), bal["nonce"], bal["codehash"]) == (wei, D("7.5"), 0, EMPTY_CODE_HASH)
    after = assert_invariant(node)
    assert int(after["supplywei"]) - int(before["supplywei"]) == wei
    assert after["burnedwei"] == before["burnedwei"]  # system txs use no gas
    height = node.getblock(native_block)["height"]
    block = chain.block(height)
    [sys_tx] = [t for t in block["systemtxs"] if t["nativetxid"] == native_txid]
    assert (sys_tx["kind"], sys_tx["to"], D(sys_tx["amount"])) == ("deposit", key.address, D("7.5"))
    assert block["transactions"] == [] and block["gasused"] == 0
    # Its hash is keccak256(0x7e || rlp([native txid, to, wei])), and it has a receipt.
    r = node.getmetareceipt(deposit_tx_hash(native_txid, key.address, wei))
    assert (r["txtype"], r["nativetxid"], r["status"], r["gasused"], r["logs"], r["to"], r["error"]) == \
        (DEPOSIT_TX_TYPE, native_txid, True, 0, [], key.address, ""), r
    assert (r["blocknumber"], h(r["blockhash"]), r["index"]) == (height, h(block["hash"]), 0), r
    # The receipt is found with the hash in any case, with or without 0x.
    assert node.getmetareceipt(h(r["txhash"]).upper()) == r
    with pytest.raises(RPCError) as e:
        node.getmetareceipt("0x" + "ab" * 32)
    assert e.value.code == -8, e.value.message


# ERC-20 and fees


def test_erc20_deploy_transfer_and_fees(chain):
    node = chain.node
    key, bob = chain.funded_key(10), chain.key().address
    token = contracts.load("Token")
    beneficiary = chain.block()["beneficiary"]
    assert beneficiary != ZERO_ADDRESS and beneficiary == to_checksum_address(beneficiary)
    supply = 10**24

    # Deploy: the sender pays gasused x effective gas price; the base fee part
    # is burned, the rest goes to the beneficiary.
    start = wei_of(node, key.address, beneficiary)
    burned0 = int(assert_invariant(node)["burnedwei"])
    address, r = chain.deploy(key, "Token", "Test", "TST", supply)
    block = chain.block(r["blocknumber"])
    assert block["beneficiary"] == beneficiary and block["gasused"] == r["gasused"] == r["cumulativegasused"]
    base_fee = block["basefee"]
    assert base_fee >= BASE_FEE_FLOOR and r["effectivegasprice"] == base_fee + GWEI  # the 1 gwei tip fits under 10
    assert (r["txtype"], r["index"], r["nativetxid"], r["error"]) == (2, 0, "", "")
    assert node.getmetacode(address) == "0x" + token.deployed_bytecode.hex()
    assert storage_int(node, address, contracts.erc20_balance_slot(key.address)) == supply
    assert storage_int(node, address, token.slot("totalSupply")) == supply
    assert events(token, r) == [("Transfer", {"from": ZERO_ADDRESS, "to": key.address, "value": supply})]
    assert r["logs"][0]["address"] == address
    end = wei_of(node, key.address, beneficiary)
    assert start[0] - end[0] == fee_of(r)
    assert end[1] - start[1] == r["gasused"] * (r["effectivegasprice"] - base_fee)
    burned1 = int(assert_invariant(node)["burnedwei"])
    assert burned1 - burned0 == r["gasused"] * base_fee
    acct = node.getmetabalance(address)
    assert acct["nonce"] == 1 and acct["codehash"] != EMPTY_CODE_HASH, acct  # EIP-161: contracts start at 1

    # A token transfer and a plain value transfer in one block.
    start = wei_of(node, key.address, beneficiary, bob)
    t1 = chain.call(key, address, token, "transfer", bob, 1000, gas=100_000)
    t2 = chain.send(key, bob, 12_345, max_fee=20 * GWEI, max_priority_fee=3 * GWEI)
    chain.mine()
    r1, r2 = chain.mined(t1), chain.mined(t2)
    block = chain.block(r1["blocknumber"])
    base_fee = block["basefee"]
    assert r2["blocknumber"] == r1["blocknumber"] and (r1["index"], r2["index"]) == (0, 1)
    assert r2["gasused"] == 21_000 and r2["effectivegasprice"] == base_fee + 3 * GWEI
    assert block["gasused"] == r1["gasused"] + r2["gasused"] == r2["cumulativegasused"]
    assert [h(tx["hash"]) for tx in block["transactions"]] == [h(t1), h(t2)]
    [log] = r1["logs"]
    assert log["address"] == address and len(log["topics"]) == 3
    assert events(token, r1) == [("Transfer", {"from": key.address, "to": bob, "value": 1000})]
    assert r2["logs"] == [] and r2["to"] == bob and r1["to"] == address
    # The block's logs bloom has the log's address and topics.
    assert len(h(block["logsbloom"])) == 512
    for item in [to_canonical_address(address)] + [bytes.fromhex(h(t)) for t in log["topics"]]:
        assert in_bloom(block["logsbloom"], item), item.hex()
    assert int(h(chain.block(r["blocknumber"] - 1)["logsbloom"]), 16) == 0  # the funding block: no logs
    assert storage_int(node, address, contracts.erc20_balance_slot(key.address)) == supply - 1000
    assert storage_int(node, address, contracts.erc20_balance_slot(bob)) == 1000
    end = wei_of(node, key.address, beneficiary, bob)
    assert start[0] - end[0] == fee_of(r1) + fee_of(r2) + 12_345
    assert end[2] - start[2] == 12_345
    assert end[1] - start[1] == sum(r["gasused"] * (r["effectivegasprice"] - base_fee) for r in (r1, r2))
    burned2 = int(assert_invariant(node)["burnedwei"])
    assert burned2 - burned1 == (r1["gasused"] + r2["gasused"]) * base_fee
    assert node.getmetabalance(key.address)["nonce"] == 3

    # The beneficiary is the wallet's: it can spend its tips.
    before = meta_wei(node, bob)
    assert h(node.metatransfer(beneficiary, bob, D("0.00000001"))) != ""
    chain.mine()
    assert meta_wei(node, bob) == before + 10**10


# Roots: the tx root, receipts root and logs bloom recomputed here


def test_trie_known_answers():
    """framework/metachain.py's trie against Ethereum's trieanyorder vectors."""
    assert trie_root([]) == EMPTY_TRIE_ROOT == bytes.fromhex(
        "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
    vectors = [
        ([(b"A", b"a" * 50)], "d23786fb4a010da3ce639d66d5e904a11dbc02746d1ce25029e53290cabf28ab"),
        ([(b"doe", b"reindeer"), (b"dog", b"puppy"), (b"dogglesworth", b"cat")],
         "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3"),
        ([(b"do", b"verb"), (b"horse", b"stallion"), (b"doge", b"coin"), (b"dog", b"puppy")],
         "5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84"),
        ([(b"foo", b"bar"), (b"food", b"bass")], "17beaa1648bafa633cda809c90c04af50fc8aed3cb40d16efbddee6fdf63c4c3"),
        ([(b"be", b"e"), (b"dog", b"puppy"), (b"bed", b"d")],
         "3f67c7a47520f79faa29255d2d3c084a7a6df0453116ed7232ff10277a8be68b"),
    ]
    for pairs, root in vectors:
        assert trie_root(pairs).hex() == root
        assert trie_root(reversed(pairs)).hex() == root


def test_block_roots_recomputed_independently(chain):
    """One block with a deposit, a withdrawal and EVM txs of types 0, 1 and 2
    (a token transfer with a log, a reverted call): its tx root, receipts root
    and logs bloom are Ethereum's, over the system txs first, then the EVM txs."""
    node = chain.node
    b, c, a = chain.key(), chain.key(), chain.key()
    node.deposittometachain(chain.addr, b.address, 5)
    node.deposittometachain(chain.addr, c.address, 2)
    chain.mine()
    token, reverter = contracts.load("Token"), contracts.load("Reverter")
    deploy_t = chain.send(b, None, 0, token.deploy_data("R", "R", 10**9), 2_000_000)
    deploy_r = chain.send(b, None, 0, reverter.deploy_data(), 1_000_000)
    chain.mine()
    ta, ra = chain.mined(deploy_t)["contractaddress"], chain.mined(deploy_r)["contractaddress"]
    out = node.getnewaddress()
    dep = node.deposittometachain(chain.addr, a.address, 1)
    wd = node.withdrawfrommetachain(c.address, out, 1, c.sign_withdrawal(out, units(1), 0).hex())
    evm = [chain.call(b, ta, token, "transfer", a.address, 5, gas=100_000),
           send_raw(node, b.sign_tx(legacy(3, a.address, 1, gas_price=2 * GWEI))),
           send_raw(node, b.sign_tx(eip2930(4, a.address, 2, gas_price=2 * GWEI))),
           chain.call(b, ra, reverter, "writeThenFail", 1, gas=100_000)]
    chain.mine()
    block = chain.block()
    assert [x["nativetxid"] for x in block["systemtxs"]] in ([dep, wd], [wd, dep])
    encodings, hashes = [], []
    for x in block["systemtxs"]:
        if x["kind"] == "deposit":
            e = deposit_tx_encoding(x["nativetxid"], x["to"], units(x["amount"]) * WEI_PER_UNIT)
        else:
            sig = bytes.fromhex(node.getrawtransaction(x["nativetxid"], True)["metasignature"])
            e = withdrawal_tx_encoding(x["nativetxid"], x["from"], x["to"], units(x["amount"]) * WEI_PER_UNIT,
                                       x["nonce"], sig)
        encodings.append(e)
        hashes.append("0x" + keccak(e).hex())
    assert [h(x["hash"]) for x in block["transactions"]] == [h(t) for t in evm]
    encodings += [bytes.fromhex(h(x["raw"])) for x in block["transactions"]]
    hashes += evm
    receipts = [node.getmetareceipt(t) for t in hashes]
    assert [r["index"] for r in receipts] == list(range(len(hashes)))
    assert [r["txtype"] for r in receipts] == [e[0] for e in encodings[:2]] + [2, 0, 1, 2]
    assert [r["status"] for r in receipts] == [True] * 5 + [False]
    gas = [r["gasused"] for r in receipts]
    assert [r["cumulativegasused"] for r in receipts] == [sum(gas[:i + 1]) for i in range(len(gas))]
    assert block["gasused"] == sum(gas)
    assert h(block["txroot"]) == ordered_trie_root(encodings).hex()
    assert h(block["receiptsroot"]) == ordered_trie_root([receipt_encoding(r) for r in receipts]).hex()
    bloom = bytearray(256)
    for r in receipts:
        for i, byte in enumerate(logs_bloom(r["logs"])):
            bloom[i] |= byte
    assert h(block["logsbloom"]) == bloom.hex() and any(bloom)
    # A block without txs has the empty roots.
    chain.mine()
    empty = chain.block()
    assert h(empty["txroot"]) == h(empty["receiptsroot"]) == EMPTY_TRIE_ROOT.hex()


# The base fee follows the gas used; the block gas limit bounds a block

# Runtime code JUMPDEST PUSH1 0 JUMP: any call loops until its gas runs out.
BURNER_INIT = bytes.fromhex("635b600056" "600052" "6004601cf3")


def next_base_fee(base_fee, gas_used, gas_limit=BLOCK_GAS_LIMIT, floor=BASE_FEE_FLOOR):
    """EIP-1559 (elasticity 2, max change 1/8), never below the floor."""
    target = gas_limit // 2
    if gas_used == target:
        nxt = base_fee
    elif gas_used > target:
        nxt = base_fee + max(1, base_fee * (gas_used - target) // target // 8)
    else:
        nxt = base_fee - base_fee * (target - gas_used) // target // 8
    return max(nxt, floor)


def test_base_fee_follows_gas_used_and_the_gas_limit(chain):
    node = chain.node
    k1, k2, cheap = chain.key(), chain.key(), chain.key()
    for k in (k1, k2, cheap):
        node.deposittometachain(chain.addr, k.address, 1)
    chain.mine()
    assert chain.block()["basefee"] == node.getmetachaininfo()["nextbasefee"] == BASE_FEE_FLOOR
    t = chain.send(k1, None, 0, BURNER_INIT, 100_000)
    chain.mine()
    burner = chain.mined(t)["contractaddress"]
    assert node.getmetacode(burner) == "0x5b600056"
    # Two calls of 20M gas each: only one fits in a 30M block.
    burn1 = chain.send(k1, burner, 0, b"", 20_000_000)
    burn2 = chain.send(k2, burner, 0, b"", 20_000_000)
    burned0 = int(assert_invariant(node)["burnedwei"])
    chain.mine()
    block = chain.block()
    assert len(block["transactions"]) == 1 and block["gasused"] == 20_000_000, block["transactions"]
    first = h(block["transactions"][0]["hash"])
    second = burn2 if first == h(burn1) else burn1
    r = chain.mined(first, success=False)
    assert r["gasused"] == 20_000_000 and r["error"].startswith("halt"), r  # out of gas
    assert int(assert_invariant(node)["burnedwei"]) - burned0 == 20_000_000 * BASE_FEE_FLOOR
    # 20M used of a 15M target: the base fee rises by 1/8 of 5/15.
    raised = next_base_fee(BASE_FEE_FLOOR, 20_000_000)
    assert raised == 1_041_666_666 and node.getmetachaininfo()["nextbasefee"] == raised
    # A tx whose max fee is under the raised base fee waits in the pool.
    low = chain.send(cheap, k1.address, 1, max_fee=BASE_FEE_FLOOR + 1, max_priority_fee=0)
    burned1 = int(assert_invariant(node)["burnedwei"])
    chain.mine()
    block = chain.block()
    assert block["basefee"] == raised and [h(x["hash"]) for x in block["transactions"]] == [h(second)]
    r2 = chain.mined(second, success=False)
    assert r2["effectivegasprice"] == raised + GWEI
    assert int(assert_invariant(node)["burnedwei"]) - burned1 == 20_000_000 * raised
    with pytest.raises(RPCError):
        node.getmetareceipt(low)
    assert pending_nonce(node, cheap.address) == 1
    # Still 20M used: up again. Then empty blocks bring it down to the floor,
    # where the cheap tx fits (at 1 wei of tip at most).
    fee = next_base_fee(raised, 20_000_000)
    assert node.getmetachaininfo()["nextbasefee"] == fee
    for _ in range(10):
        chain.mine()
        block = chain.block()
        assert block["basefee"] == fee, (block["basefee"], fee)
        fee = next_base_fee(fee, block["gasused"])
        assert node.getmetachaininfo()["nextbasefee"] == fee
        if block["transactions"]:
            break
    assert [h(x["hash"]) for x in block["transactions"]] == [h(low)] and block["basefee"] == BASE_FEE_FLOOR
    r3 = chain.mined(low)
    assert r3["effectivegasprice"] == BASE_FEE_FLOOR
    assert node.getmetachaininfo()["nextbasefee"] == BASE_FEE_FLOOR


# Reverts


def test_reverted_call_is_mined_without_its_writes(chain):
    node = chain.node
    key = chain.funded_key(2)
    reverter = contracts.load("Reverter")
    address, _ = chain.deploy(key, "Reverter")
    before = meta_wei(node, key.address)
    t1 = chain.call(key, address, reverter, "writeThenFail", 7, gas=200_000)
    t2 = chain.call(key, address, reverter, "fail", gas=200_000)
    chain.mine()
    r1, r2 = chain.mined(t1, success=False), chain.mined(t2, success=False)
    assert "nope: write rolled back" in r1["error"] and r1["error"].startswith("revert"), r1
    assert "nope: always reverts" in r2["error"], r2
    assert r1["logs"] == [] and 21_000 < r1["gasused"] < 200_000
    # The writes are rolled back, the gas is paid and the nonces are used.
    assert storage_int(node, address, reverter.slot("value")) == 0
    assert storage_int(node, address, reverter.slot("writes")) == 0
    assert before - meta_wei(node, key.address) == fee_of(r1) + fee_of(r2)
    assert node.getmetabalance(key.address)["nonce"] == 3
    # The same contract takes a call that succeeds.
    t3 = chain.call(key, address, reverter, "store", 5, gas=200_000)
    chain.mine()
    r3 = chain.mined(t3)
    assert r3["error"] == ""
    assert (storage_int(node, address, 0), storage_int(node, address, 1)) == (5, 1)
    assert events(reverter, r3) == [("Stored", {"by": key.address, "value": 5})]


# The block context


def test_native_context_seen_by_the_evm(chain):
    node = chain.node
    key = chain.funded_key(2)
    ctx = contracts.load("NativeContext")
    address, _ = chain.deploy(key, "NativeContext")
    t = chain.call(key, address, ctx, "record", gas=300_000)
    [native_hash] = chain.mine()
    r = chain.mined(t)
    native = node.getblock(native_hash)
    n = native["height"]
    block, parent = chain.block(n), chain.block(n - 1)
    assert r["blocknumber"] == block["number"] == block["nativeheight"] == n
    assert h(r["blockhash"]) == h(block["hash"]) == h(native["metablockhash"])
    assert h(block["parenthash"]) == h(parent["hash"])

    def slot(name):
        return storage_int(node, address, ctx.slot(name))
    assert slot("number") == n
    assert slot("timestamp") == native["time"] == block["nativetime"]
    assert slot("parentHash") == int(h(parent["hash"]), 16)  # BLOCKHASH(n - 1)
    assert slot("coinbase") == int(h(block["beneficiary"]), 16)
    assert slot("basefee") == block["basefee"]
    assert slot("chainid") == REGTEST_CHAIN_ID
    assert slot("prevrandao") == int(h(parent["hash"]), 16)  # the parent hash, not random
    assert slot("gaslimit") == block["gaslimit"] == BLOCK_GAS_LIMIT
    [(name, logged)] = events(ctx, r)
    assert name == "Context" and logged == {
        "number": n, "timestamp": native["time"], "parentHash": bytes.fromhex(h(parent["hash"])),
        "coinbase": block["beneficiary"], "basefee": block["basefee"], "chainid": REGTEST_CHAIN_ID,
        "prevrandao": int(h(parent["hash"]), 16), "gaslimit": BLOCK_GAS_LIMIT}


# CREATE, CREATE2, SELFDESTRUCT


def test_factory_create_create2_and_selfdestruct(chain):
    node = chain.node
    key = chain.funded_key(2)
    factory, child = contracts.load("Factory"), contracts.load("Child")
    fa, _ = chain.deploy(key, "Factory")
    sink = chain.key().address
    salt = b"\x5a" * 32
    # CREATE (the factory's nonce 1) with value, and CREATE2, in one block.
    t1 = chain.call(key, fa, factory, "create", 11, value=1000)
    t2 = chain.call(key, fa, factory, "create2", salt, 12)
    chain.mine()
    r1, r2 = chain.mined(t1), chain.mined(t2)
    old = contracts.create_address(fa, 1)
    predicted = contracts.create2_address(fa, salt, child.deploy_data(12))
    assert events(factory, r1) == [("Created", {"child": old, "create2": False, "salt": bytes(32), "value": 11})]
    assert events(factory, r2) == [("Created", {"child": predicted, "create2": True, "salt": salt, "value": 12})]
    for address, v in ((old, 11), (predicted, 12)):
        assert node.getmetacode(address) not in ("0x", ""), address
        assert storage_int(node, address, child.slot("value")) == v
        assert node.getmetabalance(address)["nonce"] == 1
    assert meta_wei(node, old) == 1000
    assert storage_int(node, fa, factory.slot("children")) == 2  # the array's length
    # Created and destroyed in one tx: gone (EIP-6780), its value sent on.
    # An older child destroyed: only its balance moves; code and storage stay.
    t3 = chain.call(key, fa, factory, "createAndDestroy", 13, sink, value=500)
    t4 = chain.call(key, fa, factory, "destroy", old, sink)
    chain.mine()
    r3, r4 = chain.mined(t3), chain.mined(t4)
    (_, created), (_, destroyed) = events(factory, r3)
    gone = created["child"]
    assert gone == contracts.create_address(fa, 3) and destroyed == {"child": gone, "to": sink}
    assert node.getmetacode(gone) == "0x"
    assert storage_int(node, gone, child.slot("value")) == 0
    gone_acct = node.getmetabalance(gone)
    assert (gone_acct["wei"], gone_acct["nonce"], gone_acct["codehash"]) == ("0", 0, EMPTY_CODE_HASH), gone_acct
    assert events(factory, r4) == [("Destroyed", {"child": old, "to": sink})]
    assert node.getmetacode(old) not in ("0x", "") and storage_int(node, old, child.slot("value")) == 11
    assert meta_wei(node, old) == 0 and meta_wei(node, sink) == 1500
    assert storage_int(node, fa, factory.slot("children")) == 2


# The txpool's refusals


def _resign(raw, mutate):
    """A typed tx (type byte || rlp list) with its fields changed by `mutate` (a
    list of byte strings, the signature's y, r, s last), re-encoded canonically."""
    fields = rlp.decode(raw[1:])
    mutate(fields)
    return raw[:1] + rlp.encode(fields)


def _int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def test_txpool_refusals_change_nothing(chain):
    node = chain.node
    key, poor = chain.funded_key(1), chain.key()
    first = chain.send(key, poor.address, 1)  # nonce 0
    chain.mine()
    chain.mined(first)
    pooled = chain.send(key, poor.address, 2)  # nonce 1, waits in the pool
    assert pending_nonce(node, key.address) == 2

    def state():
        return (node.getmetabalance(key.address), node.getmetabalance(poor.address), node.getmetachaininfo(),
                chain.status())

    def refused(raw, why):
        before = state()
        with pytest.raises(RPCError) as e:
            node.sendrawmetatransaction("0x" + raw.hex())
        assert e.value.code == -8 and why in e.value.message, (why, e.value.code, e.value.message)
        assert state() == before, why
        with pytest.raises(RPCError):
            node.getmetareceipt(tx_hash(raw))
        return e.value.message

    def tx(**kw):
        args = dict(nonce=2, to=poor.address, value=3)
        args.update(kw)
        return eip1559(**args)

    refused(key.sign_tx(tx(chain_id=1)), "wrong chain id")
    refused(key.sign_tx(tx(chain_id=1131)), "wrong chain id")
    refused(key.sign_tx(legacy(2, poor.address, 3, chain_id=None)), "pre-EIP-155")
    refused(key.sign_tx(tx(gas=20_999)), "intrinsic gas too low")
    refused(key.sign_tx(tx(nonce=0)), "nonce too low")
    refused(key.sign_tx(tx(value=2 * WEI_PER_COIN)), "insufficient funds")
    refused(poor.sign_tx(tx(nonce=0, to=key.address)), "insufficient funds")
    refused(key.sign_tx(tx(max_fee=BASE_FEE_FLOOR // 2, max_priority_fee=0)), "below the minimum")
    refused(key.sign_tx(tx(max_fee=GWEI, max_priority_fee=2 * GWEI)), "above max fee")
    refused(key.sign_tx(tx(gas=BLOCK_GAS_LIMIT + 1)), "above the block gas limit")
    refused(key.sign_tx(tx(to=None, value=0, data=bytes(49_153), gas=1_000_000)), "initcode too large")
    big = key.sign_tx(tx(data=bytes(128 * 1024), gas=3_000_000))
    assert len(big) > 128 * 1024
    before = state()
    with pytest.raises(RPCError) as e:
        node.sendrawmetatransaction("0x" + big.hex())
    assert e.value.code in (-8, -22) and "over the limit" in e.value.message, e.value.message
    assert state() == before
    # A bad signature: s above n/2 (a malleated signature) is refused as such.
    good = key.sign_tx(tx())

    def high_s(f):
        s = int.from_bytes(f[-1], "big")
        f[-1] = _int_bytes(SECP256K1_N - s)
        f[-3] = b"" if f[-3] == b"\x01" else b"\x01"
    refused(_resign(good, high_s), "bad signature")
    # A tampered byte of r: the signature recovers to nobody or to another
    # address, which has nothing; refused either way.
    msg = refused(_resign(good, lambda f: f.__setitem__(-2, f[-2][:-1] + bytes([f[-2][-1] ^ 1]))), "")
    assert "bad signature" in msg or "insufficient funds" in msg, msg
    # A tampered value under the original signature: likewise.
    msg = refused(_resign(good, lambda f: f.__setitem__(6, _int_bytes(4))), "")
    assert "bad signature" in msg or "insufficient funds" in msg, msg
    # Junk and unsupported types.
    for junk, why in ((b"\x03" + good[1:], "not supported"), (b"\x04" + good[1:], "not supported"),
                      (b"\x02\xc0", "malformed"), (good + b"\x00", "malformed")):
        refused(junk, why)
    with pytest.raises(RPCError) as e:
        node.sendrawmetatransaction("zz")
    assert e.value.code == -22

    # Replacing the pooled nonce-1 tx: < 10% more max fee and tip is refused,
    # >= 10% more replaces it.
    refused(key.sign_tx(tx(nonce=1, value=5, max_fee=10 * GWEI + GWEI // 2, max_priority_fee=GWEI + GWEI // 20)),
            "replacement underpriced")
    refused(key.sign_tx(tx(nonce=1, value=5, max_fee=20 * GWEI, max_priority_fee=GWEI)), "replacement underpriced")
    # The mined nonce-0 tx again.
    with pytest.raises(RPCError) as e:
        node.sendrawmetatransaction(node.getmetablock(str(node.getblockcount()))["transactions"][0]["raw"])
    msg = e.value.message
    assert (e.value.code == -8 and "nonce too low" in msg) or (e.value.code == -27 and "already known" in msg), msg
    before = node.getmetabalance(key.address)
    replacement = send_raw(node, key.sign_tx(tx(nonce=1, value=5, max_fee=11 * GWEI, max_priority_fee=GWEI * 11 // 10)))
    with pytest.raises(RPCError) as e:
        send_raw(node, key.sign_tx(tx(nonce=1, value=5, max_fee=11 * GWEI, max_priority_fee=GWEI * 11 // 10)))
    assert e.value.code == -27 and "already known" in e.value.message, e.value.message
    assert node.getmetabalance(key.address) == before  # same nonce: the pending count is unchanged
    chain.mine()
    r = chain.mined(replacement)
    assert int(node.getmetabalance(poor.address)["wei"]) == 1 + 5
    with pytest.raises(RPCError):
        node.getmetareceipt(pooled)
    assert node.getmetabalance(key.address)["nonce"] == node.getmetabalance(key.address)["pendingnonce"] == 2
    assert r["effectivegasprice"] == chain.block(r["blocknumber"])["basefee"] + GWEI * 11 // 10
    # Legacy (EIP-155) and EIP-2930 txs are taken too; they pay their gas price.
    t0 = send_raw(node, key.sign_tx(legacy(2, poor.address, 7, gas_price=3 * GWEI)))
    t1 = send_raw(node, key.sign_tx(eip2930(3, poor.address, 8, gas=23_400, gas_price=4 * GWEI,
                                            access_list=[{"address": poor.address, "storageKeys": []}])))
    chain.mine()
    r0, r1 = chain.mined(t0), chain.mined(t1)
    assert (r0["txtype"], r0["effectivegasprice"], r1["txtype"], r1["effectivegasprice"]) == (0, 3 * GWEI, 1, 4 * GWEI)
    assert r1["gasused"] == 21_000 + 2_400  # an access-list address costs 2,400 gas
    assert meta_wei(node, poor.address) == 1 + 5 + 7 + 8


# Withdrawals signed outside the wallet


def test_withdrawal_signed_by_eth_account(chain):
    node = chain.node
    key, stranger = chain.funded_key(5), chain.funded_key(5)  # the lock holds more than 6 coins
    out = node.getnewaddress()
    amount = units(2)
    assert pending_nonce(node, key.address) == 0

    def state():
        return (node.getmetabalance(key.address), node.getrawmempool(), native_balance(node, out),
                node.getmetachaininfo())

    def refused(sig, coins=2):
        before = state()
        with pytest.raises(RPCError) as e:
            node.withdrawfrommetachain(key.address, out, coins, sig.hex())
        assert e.value.code == -26 and ("the metachain refuses this withdrawal" in e.value.message
                                        or "the metachain would refuse this withdrawal" in e.value.message), \
            e.value.message
        assert state() == before
        return e.value.message

    good = key.sign_withdrawal(out, amount, 0)
    assert "signature" in refused(good[:5] + bytes([good[5] ^ 0x40]) + good[6:])  # a tampered byte
    assert "signature" in refused(key.sign_withdrawal(out, amount, 1))  # another nonce
    assert "signature" in refused(key.sign_withdrawal(out, units(3), 0))  # another amount
    assert "signature" in refused(key.sign_withdrawal(chain.addr, amount, 0))  # another recipient
    assert "signature" in refused(key.sign_withdrawal(out, amount, 0, chain_id=1130))  # another chain
    assert "signature" in refused(stranger.sign_withdrawal(out, amount, 0))  # another key
    assert "insufficient meta balance" in refused(key.sign_withdrawal(out, units(6), 0), 6)
    # The wallet does not hold this key: without a signature it says so.
    with pytest.raises(RPCError) as e:
        node.withdrawfrommetachain(key.address, out, 2)
    assert e.value.code == -5 and "no key" in e.value.message
    # The right signature, also with v as 0/1 instead of 27/28.
    before = assert_invariant(node)
    wei = meta_wei(node, key.address)
    txid = node.withdrawfrommetachain(key.address, out, 2, good.hex())
    assert node.getrawmempool() == [txid]
    decoded = node.getrawtransaction(txid, True)
    assert (decoded["metafrom"], decoded["metanonce"], decoded["metasignature"]) == (key.address, 0, good.hex())
    chain.mine()
    assert native_balance(node, out) == 2 - FEE
    assert wei - meta_wei(node, key.address) == 2 * WEI_PER_COIN
    assert node.getmetabalance(key.address)["nonce"] == 1
    after = assert_invariant(node)
    assert D(before["lockbalance"]) - D(after["lockbalance"]) == 2
    # Replayed, it is refused: the nonce is used.
    assert "signature" in refused(good)
    v01 = key.sign_withdrawal(out, units(1), 1)
    v01 = v01[:64] + bytes([v01[64] - 27])
    txid = node.withdrawfrommetachain(key.address, out, 1, v01.hex())
    chain.mine()
    assert native_balance(node, out) == 3 - 2 * FEE
    assert node.getmetabalance(key.address)["nonce"] == 2
    [sys_tx] = chain.block()["systemtxs"]
    assert (sys_tx["kind"], sys_tx["from"], sys_tx["to"], sys_tx["nonce"], sys_tx["nativetxid"]) == \
        ("withdraw", key.address, out, 1, txid)
    # While the account has an EVM tx in the txpool, a withdrawal (which a block
    # runs first, taking that tx's nonce) is refused with the reason.
    chain.send(key, stranger.address, 1)
    assert "txpool" in refused(key.sign_withdrawal(out, units(1), 2), 1)
    chain.mine()
    node.withdrawfrommetachain(key.address, out, 1, key.sign_withdrawal(out, units(1), 3).hex())
    chain.mine()
    assert node.getmetabalance(key.address)["nonce"] == 4 and native_balance(node, out) == 4 - 3 * FEE


def test_wallet_withdrawal_then_transfer_in_one_block(chain):
    """A pending withdrawal takes the account's next nonce, and the wallet signs
    an EVM transfer past it: a block runs the withdrawal first, then the transfer."""
    node = chain.node
    meta, other, out = node.getnewmetaaddress(), chain.key().address, node.getnewaddress()
    node.deposittometachain(chain.addr, meta, 3)
    chain.mine()
    wtxid = node.withdrawfrommetachain(meta, out, 1)
    assert node.getrawtransaction(wtxid, True)["metanonce"] == 0
    t = node.metatransfer(meta, other, 1)
    assert node.getmetabalance(meta)["pendingnonce"] == 0  # nonce 1 waits behind the withdrawal
    [first] = chain.mine()
    assert (node.getmetabalance(meta)["nonce"], native_balance(node, out)) == (2, 1 - FEE)
    # The transfer, at the nonce after the withdrawal, is mined in the same block.
    r = chain.mined(t)
    assert node.getmetabalance(meta)["nonce"] == node.getmetabalance(meta)["pendingnonce"] == 2
    assert meta_wei(node, meta) == WEI_PER_COIN - fee_of(r) and meta_wei(node, other) == WEI_PER_COIN
    block = chain.block(node.getblock(first)["height"])
    assert [t["kind"] for t in block["systemtxs"]] == ["withdraw"]
    assert [h(x["hash"]) for x in block["transactions"]] == [h(t)]


# A reorg restores contract storage and balances


def _snapshot(node, token, holders, accounts):
    """The chain's metachain state as far as these addresses go (not the pool)."""
    info = node.getmetachaininfo()
    return {"tip": (info["height"], h(info["hash"]), info["stateroot"], info["supplywei"], info["burnedwei"]),
            "tokens": [storage_int(node, token, contracts.erc20_balance_slot(a)) for a in holders],
            "accounts": [{k: v for k, v in node.getmetabalance(a).items() if k != "pendingnonce"}
                         for a in accounts]}


@pytest.mark.parametrize("mode", MODES)
def test_reorg_restores_contract_storage_and_balances(node_in_mode, mode):
    node, _ = node_in_mode(mode)
    node.wait_for_rpc()
    addr = node.getnewaddress()
    node._mining_address = addr
    mine(node, 2)
    k, z = MetaKey(0xA11CE), MetaKey(0xB0B)
    x, y = MetaKey(0xC0FFEE).address, MetaKey(0xD00D).address
    node.deposittometachain(addr, k.address, 5)
    node.deposittometachain(addr, z.address, 1)
    mine(node)
    token = contracts.load("Token")
    deploy = send_raw(node, k.sign_tx(eip1559(0, None, 0, token.deploy_data("T", "T", 10**6), 2_000_000)))
    mine(node)
    address = node.getmetareceipt(deploy)["contractaddress"]

    def send(key, nonce, to, value=0, data=b"", gas=100_000, **kw):
        return send_raw(node, key.sign_tx(eip1559(nonce, to, value, data, gas, **kw)))

    def transfer(nonce, to, n, **kw):
        return send(k, nonce, address, 0, token.encode_call("transfer", to, n), **kw)

    def snapshot():
        return _snapshot(node, address, [k.address, x, y], [k.address, z.address, x, y])
    base = snapshot()
    assert base["tokens"] == [10**6, 0, 0]

    # Branch A: four blocks, EVM txs in three of them.
    a_txs = [transfer(1, x, 100)]
    [a1] = mine(node)
    a_txs += [transfer(2, x, 50), send(k, 3, x, 1000, gas=21_000)]
    mine(node)
    a_txs += [transfer(3 + 1, y, 7)]
    mine(node, 2)
    tip_a, state_a = node.getbestblockhash(), snapshot()
    assert state_a["tokens"] == [10**6 - 157, 150, 7] and meta_wei(node, x) == 1000
    assert all(node.getmetareceipt(t)["status"] for t in a_txs)

    # Back to the fork point: storage and balances as they were; A's txs wait
    # in the pool again.
    node.invalidateblock(a1)
    assert_invariant(node)
    assert snapshot() == base
    assert pending_nonce(node, k.address) == 5
    for t in a_txs:
        with pytest.raises(RPCError):
            node.getmetareceipt(t)

    # Branch B, three blocks: k's nonce 1 now pays y instead (a replacement with
    # a 10% bump), and z sends y value, a tx A does not have.
    b_only = transfer(1, y, 100, max_fee=11 * GWEI, max_priority_fee=GWEI * 11 // 10)
    z_tx = send(z, 0, y, 777, gas=21_000)
    branch_b = mine(node, 3)
    state_b = snapshot()
    assert state_b["tokens"] == [10**6 - 157, 50, 107], state_b
    assert meta_wei(node, y) == 777 and meta_wei(node, x) == 1000
    assert node.getmetareceipt(b_only)["status"] and node.getmetareceipt(z_tx)["status"]
    with pytest.raises(RPCError):
        node.getmetareceipt(a_txs[0])  # replaced

    # A wins back (four blocks against three): a reorg of depth 3.
    node.reconsiderblock(a1)
    assert node.getbestblockhash() == tip_a
    assert not set(branch_b) & {node.getblockhash(i) for i in range(1, node.getblockcount() + 1)}
    assert_invariant(node)
    assert snapshot() == state_a
    # B's replacement is gone (its nonce is used); z's tx is back in the pool.
    for t in (b_only, z_tx):
        with pytest.raises(RPCError):
            node.getmetareceipt(t)
    assert node.getmetabalance(k.address)["pendingnonce"] == node.getmetabalance(k.address)["nonce"] == 5
    assert node.getmetabalance(z.address)["pendingnonce"] == 1
    mine(node)
    assert node.getmetareceipt(z_tx)["status"] and meta_wei(node, y) == 777
    with pytest.raises(RPCError):
        node.getmetareceipt(b_only)
    assert snapshot()["tokens"] == state_a["tokens"]


# kill -9 while blocks with EVM txs are mined


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_while_mining_evm_txs_then_recovery(node_in_mode, mode):
    node, server = node_in_mode(mode)
    node.wait_for_rpc()
    addr = node.getnewaddress()
    node._mining_address = addr
    mine(node, 2)
    k0, k1, sink = MetaKey(0xDEAD1), MetaKey(0xDEAD2), MetaKey(0xDEAD3).address
    node.deposittometachain(addr, k0.address, 10)
    node.deposittometachain(addr, k1.address, 10)
    mine(node)
    token = contracts.load("Token")
    deploy = send_raw(node, k0.sign_tx(eip1559(0, None, 0, token.deploy_data("T", "T", 10**6), 2_000_000)))
    mine(node)
    address = node.getmetareceipt(deploy)["contractaddress"]

    # A thread sends a token transfer and a value transfer, mines a block, and
    # so on, until the node is killed under it.
    sent, stop = [], threading.Event()

    def work():
        i = 0
        try:
            while not stop.is_set():
                data = token.encode_call("transfer", sink, 1 + i % 3)
                t0 = k0.sign_tx(eip1559(1 + i, address, 0, data, 100_000))
                t1 = k1.sign_tx(eip1559(i, sink, 1000 + i, b"", 21_000))
                for raw, what in ((t0, ("token", 1 + i % 3)), (t1, ("value", 1000 + i))):
                    sent.append((tx_hash(raw), what))  # before: the kill may cut the answer, not the tx
                    node.sendrawmetatransaction("0x" + raw.hex())
                node.generatetoaddress(1, addr)
                i += 1
        except Exception:
            pass  # the node is gone
    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(1.0)
    node.process.send_signal(signal.SIGKILL)
    node.process.wait()
    stop.set()
    worker.join(timeout=30)
    assert len(sent) >= 4, "no EVM txs were sent before the kill"
    if server:
        server.kill()
        server.start()
        node.extra_args = server.defid_args(mode)
    node.start().wait_for_rpc()

    def check():
        """The state is what the mined receipts say; returns the unmined hashes."""
        info = assert_invariant(node)
        assert h(info["hash"]) == h(node.getblock(node.getbestblockhash())["metablockhash"])
        mined, missing = [], []
        for t, what in sent:
            try:
                mined.append((node.getmetareceipt(t), what))
            except RPCError:
                missing.append(t)
        tokens = sum(n for r, (kind, n) in mined if kind == "token" and r["status"])
        values = sum(n for r, (kind, n) in mined if kind == "value")
        assert storage_int(node, address, contracts.erc20_balance_slot(sink)) == tokens
        assert storage_int(node, address, contracts.erc20_balance_slot(k0.address)) == 10**6 - tokens
        assert meta_wei(node, sink) == values
        fees0 = fee_of(node.getmetareceipt(deploy)) + sum(fee_of(r) for r, (kind, _) in mined if kind == "token")
        fees1 = sum(fee_of(r) for r, (kind, _) in mined if kind == "value")
        assert meta_wei(node, k0.address) == 10 * WEI_PER_COIN - fees0
        assert meta_wei(node, k1.address) == 10 * WEI_PER_COIN - fees1 - values
        # Mined txs are a prefix of each sender's nonces.
        assert node.getmetabalance(k0.address)["nonce"] == 1 + sum(1 for _, (kind, _) in mined if kind == "token")
        assert node.getmetabalance(k1.address)["nonce"] == sum(1 for _, (kind, _) in mined if kind == "value")
        return missing
    check()
    # Every tx that was accepted before the kill is still pooled (or mined):
    # a few blocks mine them all.
    for _ in range(3):
        if not check():
            break
        mine(node)
    missing = check()
    # The last submission may have been cut by the kill; anything else must be mined.
    assert len(missing) <= 1 and (not missing or missing[0] == sent[-1][0]), (len(sent), missing)
    mine(node)
    check()
