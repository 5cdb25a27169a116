"""The tests' EVM tooling without a node: the contracts compile with the pinned solc,
their ABIs and storage layouts are what the tests rely on, and MetaKey's EIP-712
withdrawal signatures and signed txs are what docs/metachain.md says."""
import hashlib
import json
import os
import struct

import pytest
import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_utils import is_checksum_address, keccak, to_canonical_address
from hexbytes import HexBytes

from framework import contracts
from framework.meta_key import (REGTEST_CHAIN_ID, MetaKey, eip1559, eip2930, legacy, recover_tx_sender,
                                recover_withdrawal, tx_hash, txid, withdrawal, withdrawal_digest,
                                withdrawal_typed_data)

EXPECTED_FUNCTIONS = {
    "Token": {"name", "symbol", "decimals", "totalSupply", "balanceOf", "transfer", "approve", "allowance",
              "transferFrom"},
    "Reverter": {"fail", "writeThenFail", "failCustom", "store", "value", "writes"},
    "NativeContext": {"record", "hashOf", "number", "timestamp", "parentHash", "coinbase", "basefee", "chainid",
                      "prevrandao", "gaslimit"},
    "Factory": {"create", "create2", "predict", "createAndDestroy", "destroy", "childCount", "children",
                "codeSize"},
    "Child": {"destroy", "factory", "value"},
}
EXPECTED_EVENTS = {"Token": {"Transfer", "Approval"}, "Reverter": {"Stored"}, "NativeContext": {"Context"},
                   "Factory": {"Created", "Destroyed"}}
NATIVE_TO = "dfrt1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzv9g0h"  # any string: it is signed as is


def names(abi, kind):
    return {e["name"] for e in abi if e["type"] == kind}


def test_contracts_compile_with_the_pinned_solc():
    manifest = contracts.build(force=True)
    assert manifest["compiler"].startswith(contracts.SOLC_VERSION + "+commit.")
    assert manifest["evmVersion"] == "cancun"
    assert set(manifest["contracts"]) == set(EXPECTED_FUNCTIONS)
    with open(os.path.join(contracts.CONTRACTS_DIR, "package.json")) as f:
        assert json.load(f)["dependencies"]["solc"] == contracts.SOLC_VERSION  # exact, no range
    for name, functions in EXPECTED_FUNCTIONS.items():
        c = contracts.load(name)
        assert functions <= names(c.abi, "function"), name
        assert EXPECTED_EVENTS.get(name, set()) <= names(c.abi, "event"), name
        assert c.bytecode and c.deployed_bytecode and c.deployed_bytecode in c.bytecode, name
        # No INVALID-only stubs: runtime code starts with the usual free memory pointer setup.
        assert c.deployed_bytecode[:2] == b"\x60\x80", name
    # A second build is a cache hit: the artifacts are not rewritten.
    token_json = os.path.join(contracts.BUILD_DIR, "Token.json")
    before = os.path.getmtime(token_json)
    contracts._built = False
    contracts.build()
    assert os.path.getmtime(token_json) == before


def test_token_storage_layout_and_slots():
    token = contracts.load("Token")
    assert [(v["label"], int(v["slot"])) for v in token.storage_layout["storage"]] == [
        ("balanceOf", 0), ("allowance", 1), ("totalSupply", 2), ("name", 3), ("symbol", 4)]
    holder = MetaKey(1).address
    assert contracts.erc20_balance_slot(holder) == int.from_bytes(
        keccak(bytes(12) + to_canonical_address(holder) + (0).to_bytes(32, "big")), "big")
    spender = MetaKey(2).address
    inner = keccak(abi_encode(["address", "uint256"], [holder, 1]))
    assert contracts.erc20_allowance_slot(holder, spender) == int.from_bytes(
        keccak(abi_encode(["address"], [spender]) + inner), "big")


def test_abi_helpers():
    token = contracts.load("Token")
    to = MetaKey(3).address
    call = contracts.encode_call(token.abi, "transfer", to, 5)
    assert call[:4] == keccak(b"transfer(address,uint256)")[:4] and len(call) == 4 + 64
    assert contracts.encode_call(token.abi, "transfer(address,uint256)", to, 5) == call
    data = contracts.deploy_data("Token", "Test", "TST", 10**24)
    assert data.startswith(token.bytecode) and len(data) == len(token.bytecode) + 32 * 3 + 2 * 64  # head, 2 strings
    assert contracts.decode_result(token.abi, "balanceOf", (7).to_bytes(32, "big")) == (7,)
    topics = [token.event_topic("Transfer"), bytes(32), "0x" + bytes(12).hex() + to[2:].lower()]
    assert topics[0] == keccak(b"Transfer(address,address,uint256)")
    assert contracts.decode_event(token.abi, topics, (9).to_bytes(32, "big")) == (
        "Transfer", {"from": "0x" + "00" * 20, "to": to, "value": 9})
    reverter = contracts.load("Reverter")
    reason = contracts.ERROR_SELECTOR + abi_encode(["string"], ["nope: always reverts"])
    assert contracts.decode_revert(reason) == ("Error", "nope: always reverts")
    custom = keccak(b"Refused(uint256)")[:4] + (3).to_bytes(32, "big")
    assert contracts.decode_revert("0x" + custom.hex(), reverter.abi) == ("Refused", (3,))
    # Known vectors: CREATE from 0x6ac7…dbf0, and EIP-1014's first CREATE2 example.
    sender = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
    assert contracts.create_address(sender, 0).lower() == "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    assert contracts.create_address(sender, 1).lower() == "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"
    assert contracts.create2_address("0x" + "00" * 20, 0, b"\x00") == "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"
    factory = MetaKey(4).address
    child_init = contracts.deploy_data("Child", 7)
    assert contracts.create2_address(factory, 5, child_init) == contracts.create2_address(
        factory, (5).to_bytes(32, "big"), "0x" + child_init.hex())


def test_withdrawal_signature_is_eip712():
    key = MetaKey(0x1234)
    assert is_checksum_address(key.address)
    assert key.address == Account.from_key((0x1234).to_bytes(32, "big")).address
    sig = key.sign_withdrawal(NATIVE_TO, 12_345_678, 3, REGTEST_CHAIN_ID)
    assert len(sig) == 65 and sig[64] in (27, 28)
    typed = withdrawal_typed_data(key.address, NATIVE_TO, 12_345_678, 3, REGTEST_CHAIN_ID)
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=sig) == key.address
    assert recover_withdrawal(sig, key.address, NATIVE_TO, 12_345_678, 3) == key.address
    # Any other field, or another chain, recovers someone else.
    assert recover_withdrawal(sig, key.address, NATIVE_TO, 12_345_679, 3) != key.address
    assert recover_withdrawal(sig, key.address, NATIVE_TO, 12_345_678, 4) != key.address
    assert recover_withdrawal(sig, key.address, NATIVE_TO + "x", 12_345_678, 3) != key.address
    assert recover_withdrawal(sig, key.address, NATIVE_TO, 12_345_678, 3, chain_id=1130) != key.address

    # The digest from the definitions in docs/metachain.md, by hand.
    def h(s):
        return keccak(s.encode())
    domain = keccak(h("EIP712Domain(string name,string version,uint256 chainId)") + h("DefiMetachain") + h("1")
                    + REGTEST_CHAIN_ID.to_bytes(32, "big"))
    struct = keccak(h("Withdrawal(address from,string to,uint256 amount,uint256 nonce)")
                    + bytes(12) + to_canonical_address(key.address) + h(NATIVE_TO)
                    + (12_345_678).to_bytes(32, "big") + (3).to_bytes(32, "big"))
    digest = keccak(b"\x19\x01" + domain + struct)
    assert withdrawal_digest(key.address, NATIVE_TO, 12_345_678, 3) == digest
    assert Account._recover_hash(digest, signature=sig) == key.address
    # RFC 6979: the same inputs always give the same signature.
    assert key.sign_withdrawal(NATIVE_TO, 12_345_678, 3, REGTEST_CHAIN_ID) == sig


def test_signed_eip1559_tx_decodes_back():
    key, to = MetaKey(0xBEEF), MetaKey(0xCAFE).address
    tx = eip1559(nonce=7, to=to, value=10**18, data=b"\x01\x02", gas=50_000, max_fee=30 * 10**9,
                 max_priority_fee=2 * 10**9)
    raw = key.sign_tx(tx)
    assert raw[0] == 2
    fields = rlp.decode(raw[1:])
    chain_id, nonce, tip, max_fee, gas, dest, value, data, access_list, y, r, s = fields
    assert int.from_bytes(chain_id, "big") == REGTEST_CHAIN_ID == 1132
    assert int.from_bytes(nonce, "big") == 7
    assert int.from_bytes(tip, "big") == 2 * 10**9 and int.from_bytes(max_fee, "big") == 30 * 10**9
    assert int.from_bytes(gas, "big") == 50_000
    assert dest == to_canonical_address(to) and int.from_bytes(value, "big") == 10**18
    assert data == b"\x01\x02" and access_list == [] and y in (b"", b"\x01")
    decoded = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert decoded["chainId"] == 1132 and decoded["nonce"] == 7 and decoded["value"] == 10**18
    assert recover_tx_sender(raw) == key.address
    assert tx_hash(raw) == "0x" + keccak(raw).hex()
    # A contract creation has an empty `to`.
    create = rlp.decode(key.sign_tx(eip1559(nonce=0, data=contracts.deploy_data("Reverter"), gas=500_000))[1:])
    assert create[5] == b""


def test_signed_eip2930_and_legacy_txs():
    key, to = MetaKey(0xBEEF), MetaKey(0xCAFE).address
    raw = key.sign_tx(eip2930(nonce=1, to=to, value=5))
    assert raw[0] == 1 and int.from_bytes(rlp.decode(raw[1:])[0], "big") == 1132
    assert recover_tx_sender(raw) == key.address
    raw = key.sign_tx(legacy(nonce=2, to=to, value=5))
    assert raw[0] >= 0xC0  # an RLP list, no type byte
    v = int.from_bytes(rlp.decode(raw)[6], "big")
    assert v in (1132 * 2 + 35, 1132 * 2 + 36)  # EIP-155
    assert recover_tx_sender(raw) == key.address
    pre155 = rlp.decode(key.sign_tx(legacy(nonce=3, to=to, value=5, chain_id=None)))
    assert int.from_bytes(pre155[6], "big") in (27, 28)


def test_contracts_behave_on_a_reference_evm():
    """Optional (needs eth-tester and py-evm, not installed by make.sh): the contracts on
    py-evm's Cancun VM do what their comments say, with MetaKey's signed txs."""
    pytest.importorskip("eth_tester")
    pytest.importorskip("eth.vm.forks")
    from eth.vm.forks import CancunVM
    from eth_tester import EthereumTester, PyEVMBackend

    backend = PyEVMBackend(vm_configuration=((0, CancunVM),))
    t = EthereumTester(backend)
    chain_id = backend.chain.chain_id
    key, bob, sink = MetaKey(0x1234), MetaKey(2).address, MetaKey(77).address
    t.send_transaction({"from": t.get_accounts()[0], "to": key.address, "value": 10**21, "gas": 21_000})
    nonce = iter(range(1000))

    def send(to, data=b"", value=0, gas=3_000_000):
        raw = key.sign_tx(eip1559(next(nonce), to=to, value=value, data=data, gas=gas, max_fee=10**11,
                                  chain_id=chain_id))
        return t.get_transaction_receipt(t.send_raw_transaction("0x" + raw.hex()))

    def call(c, to, fn, *args):
        return contracts.decode_result(c.abi, fn, t.call({"from": key.address, "to": to,
                                                          "data": "0x" + c.encode_call(fn, *args).hex()}))

    def storage(addr, slot):
        return int(t.get_storage_at(addr, contracts.slot_hex(slot)), 16)

    def events(c, receipt):
        return [c.decode_event(log["topics"], log["data"]) for log in receipt["logs"]]

    token = contracts.load("Token")
    r = send(None, contracts.deploy_data("Token", "Test", "TST", 10**24))
    assert r["status"] == 1 and r["contract_address"] == contracts.create_address(key.address, 0)
    taddr = r["contract_address"]
    r = send(taddr, token.encode_call("transfer", bob, 5 * 10**18))
    assert events(token, r) == [("Transfer", {"from": key.address, "to": bob, "value": 5 * 10**18})]
    assert call(token, taddr, "balanceOf", bob) == (5 * 10**18,)
    assert storage(taddr, contracts.erc20_balance_slot(bob)) == 5 * 10**18
    assert storage(taddr, contracts.erc20_balance_slot(key.address)) == 10**24 - 5 * 10**18
    send(taddr, token.encode_call("approve", bob, 7))
    assert storage(taddr, contracts.erc20_allowance_slot(key.address, bob)) == 7

    reverter = contracts.load("Reverter")
    raddr = send(None, contracts.deploy_data("Reverter"))["contract_address"]
    with pytest.raises(Exception, match="nope: always reverts"):
        call(reverter, raddr, "fail")
    assert send(raddr, reverter.encode_call("writeThenFail", 9), gas=200_000)["status"] == 0
    assert storage(raddr, 0) == 0
    assert send(raddr, reverter.encode_call("store", 42))["status"] == 1 and storage(raddr, 0) == 42

    nc = contracts.load("NativeContext")
    naddr = send(None, contracts.deploy_data("NativeContext"))["contract_address"]
    r = send(naddr, nc.encode_call("record"))
    [(_, ev)] = events(nc, r)
    block, parent = t.get_block_by_number(r["block_number"]), t.get_block_by_number(r["block_number"] - 1)
    assert (ev["number"], ev["timestamp"], ev["chainid"], ev["basefee"]) == (
        block["number"], block["timestamp"], chain_id, block["base_fee_per_gas"])
    assert "0x" + ev["parentHash"].hex() == parent["hash"] and call(nc, naddr, "chainid") == (chain_id,)

    factory = contracts.load("Factory")
    faddr = send(None, contracts.deploy_data("Factory"))["contract_address"]
    [(_, ev)] = events(factory, send(faddr, factory.encode_call("create", 11), value=1000))
    old = ev["child"]
    assert old == contracts.create_address(faddr, 1) and t.get_balance(old) == 1000
    salt = b"\x05" * 32
    (predicted,) = call(factory, faddr, "predict", salt, 12)
    assert predicted == contracts.create2_address(faddr, salt, contracts.deploy_data("Child", 12))
    [(_, ev)] = events(factory, send(faddr, factory.encode_call("create2", salt, 12)))
    assert ev["child"] == predicted
    # An older child: only its balance moves; code and storage stay.
    assert send(faddr, factory.encode_call("destroy", old, sink))["status"] == 1
    assert t.get_balance(sink) == 1000 and t.get_code(old) != "0x" and storage(old, 0) == 11
    # Created and destroyed in one tx: deleted.
    r = send(faddr, factory.encode_call("createAndDestroy", 13, sink), value=500)
    (_, created), (_, destroyed) = events(factory, r)
    assert destroyed == {"child": created["child"], "to": sink}
    assert t.get_code(created["child"]) == "0x" and storage(created["child"], 0) == 0
    assert t.get_balance(sink) == 1500 and call(factory, faddr, "childCount") == (2,)


def test_native_withdrawal_layout():
    """src/primitives/transaction.cpp: ... meta_from, meta_nonce, meta_signature (65), signature."""
    key = MetaKey(0x1234)
    sig = key.sign_withdrawal(NATIVE_TO, 10**8, 0)
    raw = withdrawal(key.address, NATIVE_TO, 10**8, 1000, 0, sig)

    def lp(b):
        return struct.pack("<I", len(b)) + b
    assert raw == (bytes([3]) + bytes(33) + lp(NATIVE_TO.encode()) + struct.pack("<qqQ", 10**8, 1000, 0)
                   + lp(key.address.encode()) + struct.pack("<Q", 0) + lp(sig) + lp(b""))
    assert len(key.address) == 42 and len(sig) == 65
    assert txid(raw) == hashlib.sha256(hashlib.sha256(raw).digest()).hexdigest()
