"""Helpers shared by the tests of defid with a metachain (docs/metachain.md):
the lock invariant, mining with it checked after every block, balances in wei,
raw EVM txs, receipts and system tx hashes.

    info = assert_invariant(node)        # lockbalance x 10^10 == supplywei + burnedwei
    mine(node, 3)                        # three blocks, the invariant after each
    h = send_tx(node, key, eip1559(nonce=0, to=addr, value=5))
    r = receipt(node, h)                 # getmetareceipt; r["status"], r["gasused"], ...
    fee_of(r)                            # gasused x effectivegasprice, in wei

Amounts: the node's coins are Decimal (TestNode parses numbers exactly);
wei are ints. Compare coins as Decimal, never as floats."""
from decimal import Decimal

import rlp
from eth_utils import keccak, to_canonical_address

from .meta_key import REGTEST_CHAIN_ID, WEI_PER_COIN, WEI_PER_UNIT, MetaKey, tx_hash
from .test_node import RPCError

COIN = 100_000_000  # native units per coin
FEE = Decimal("0.0001")  # the wallet's native fee, in coins
FEE_SAT = 10_000
BLOCK_GAS_LIMIT = 30_000_000
DEPOSIT_TX_TYPE, WITHDRAW_TX_TYPE = 0x7E, 0x7F
EMPTY_CODE_HASH = "0x" + keccak(b"").hex()


def D(x):
    """An exact Decimal of a coin amount (Decimal, int or str; a float only via its repr)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


def units(coins):
    """Native units (10^-8 coin) of an amount in coins, which must be whole units."""
    u = D(coins) * COIN
    assert u == u.to_integral_value(), f"{coins} is not a whole number of native units"
    return int(u)


def coins_to_wei(coins):
    w = D(coins) * WEI_PER_COIN
    assert w == w.to_integral_value(), f"{coins} is not a whole number of wei"
    return int(w)


def h(x):
    """A hash in one spelling: lowercase hex without 0x."""
    x = x.lower()
    return x[2:] if x.startswith("0x") else x


def has_metachain(node):
    try:
        node.getmetachaininfo()
        return True
    except RPCError as e:
        if "No metachain" in e.message:
            return False
        raise


def assert_invariant(node):
    """The lock address holds exactly what the metachain minted:
    lockbalance x 10^10 == supplywei + burnedwei, compared as integers; the
    metachain is at the native height, and getblockchaininfo agrees on the lock.
    A node without a metachain has an empty lock. Returns getmetachaininfo (or
    getblockchaininfo without a metachain)."""
    chain = node.getblockchaininfo()
    try:
        info = node.getmetachaininfo()
    except RPCError as e:
        if "No metachain" not in e.message:
            raise
        assert D(chain["lockbalance"]) == 0, chain
        return chain
    supply, burned = int(info["supplywei"]), int(info["burnedwei"])
    assert supply >= 0 and burned >= 0, info
    assert units(info["lockbalance"]) * WEI_PER_UNIT == supply + burned, info
    assert D(info["supply"]) * WEI_PER_COIN == supply, info
    assert info["height"] == node.getblockcount(), info
    assert info["chainid"] == REGTEST_CHAIN_ID, info
    assert D(chain["lockbalance"]) == D(info["lockbalance"]) and chain["lockaddress"] == info["lockaddress"], \
        (chain, info)
    return info


def mining_address(node):
    """One wallet address per node for the blocks' rewards."""
    if getattr(node, "_mining_address", None) is None:
        node._mining_address = node.getnewaddress()
    return node._mining_address


def mine(node, n=1, to=None):
    """Mines `n` blocks one at a time, checking the invariant after each; the hashes."""
    to = to or mining_address(node)
    hashes = []
    for _ in range(n):
        hashes += node.generatetoaddress(1, to)
        assert_invariant(node)
    return hashes


def meta_wei(node, address):
    return int(node.getmetabalance(address)["wei"])


def meta_balance(node, address):
    """In coins (18 decimals), a Decimal."""
    return D(node.getmetabalance(address)["balance"])


def native_balance(node, address):
    return D(node.getaddressbalance(address)["balance"])


def pending_nonce(node, address):
    return node.getmetabalance(address)["pendingnonce"]


def account(node, address):
    """What a refused tx must leave alone: getmetabalance (wei, nonce, pending nonce, code hash)."""
    return node.getmetabalance(address)


def send_raw(node, raw):
    """sendrawmetatransaction of raw bytes; checks the returned hash."""
    got = node.sendrawmetatransaction("0x" + bytes(raw).hex())
    assert h(got) == h(tx_hash(raw)), (got, tx_hash(raw))
    return got


def send_tx(node, key, tx):
    """Signs `tx` (a meta_key.eip1559()/eip2930()/legacy() dict) with `key` and submits it: the tx hash."""
    return send_raw(node, key.sign_tx(tx))


def receipt(node, txhash):
    return node.getmetareceipt(txhash)


def fee_of(r):
    """What a mined EVM tx paid in gas, in wei."""
    return r["gasused"] * r["effectivegasprice"]


def deposit_tx_hash(native_txid, to, wei):
    """The metachain hash of a deposit's system tx: keccak256(0x7e || rlp([native txid, to, wei]))."""
    return "0x" + keccak(deposit_tx_encoding(native_txid, to, wei)).hex()


def withdrawal_tx_encoding(native_txid, meta_from, to_native, wei, nonce, signature):
    """A withdrawal's system tx: 0x7f || rlp([native txid, from, to (bytes), wei, nonce, signature])."""
    return bytes([WITHDRAW_TX_TYPE]) + rlp.encode([bytes.fromhex(h(native_txid)), to_canonical_address(meta_from),
                                                   to_native.encode(), wei, nonce, bytes(signature)])


def deposit_tx_encoding(native_txid, to, wei):
    return bytes([DEPOSIT_TX_TYPE]) + rlp.encode([bytes.fromhex(h(native_txid)), to_canonical_address(to), wei])


# ---- Ethereum's ordered trie, receipts and blooms, written here from the Yellow Paper ----

EMPTY_TRIE_ROOT = keccak(rlp.encode(b""))


def _hex_prefix(nibbles, leaf):
    flag = (2 if leaf else 0) + len(nibbles) % 2
    nibbles = [flag] + nibbles if len(nibbles) % 2 else [flag, 0] + nibbles
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _trie_node(items):
    """The node of a (sub)trie of (nibbles, value) items, as an RLP structure."""
    if len(items) == 1:
        key, value = items[0]
        return [_hex_prefix(key, True), value]
    prefix = 0
    while all(len(k) > prefix for k, _ in items) and len({k[prefix] for k, _ in items}) == 1:
        prefix += 1
    if prefix:
        return [_hex_prefix(items[0][0][:prefix], False),
                _trie_ref(_trie_node([(k[prefix:], v) for k, v in items]))]
    branch = [b""] * 17
    for n in range(16):
        sub = [(k[1:], v) for k, v in items if k and k[0] == n]
        if sub:
            branch[n] = _trie_ref(_trie_node(sub))
    for k, v in items:
        if not k:
            branch[16] = v
    return branch


def _trie_ref(node):
    encoded = rlp.encode(node)
    return node if len(encoded) < 32 else keccak(encoded)


def trie_root(pairs):
    """The Merkle-Patricia root of the (key, value) byte pairs (no empty values)."""
    items = {}
    for k, v in pairs:
        items[tuple(x for b in bytes(k) for x in (b >> 4, b & 15))] = bytes(v)
    if not items:
        return EMPTY_TRIE_ROOT
    return keccak(rlp.encode(_trie_node(sorted((list(k), v) for k, v in items.items()))))


def ordered_trie_root(values):
    """The root of the trie of rlp(index) -> value (a block's tx or receipts root)."""
    return trie_root((rlp.encode(i), v) for i, v in enumerate(values))


def bloom_add(bloom, item):
    digest = keccak(item)
    for i in (0, 2, 4):
        bit = (digest[i] << 8 | digest[i + 1]) & 2047
        bloom[255 - bit // 8] |= 1 << (bit % 8)


def logs_bloom(logs):
    """The 256-byte bloom of getmetareceipt-style logs ({address, topics, data})."""
    bloom = bytearray(256)
    for log in logs:
        bloom_add(bloom, to_canonical_address(log["address"]))
        for topic in log["topics"]:
            bloom_add(bloom, bytes.fromhex(h(topic)))
    return bytes(bloom)


def receipt_encoding(r):
    """A getmetareceipt's EIP-2718 receipt: type || rlp([status, cumulative gas, bloom, logs]), bare for legacy."""
    logs = [[to_canonical_address(log["address"]), [bytes.fromhex(h(t)) for t in log["topics"]],
             bytes.fromhex(h(log["data"]))] for log in r["logs"]]
    body = rlp.encode([1 if r["status"] else 0, r["cumulativegasused"], logs_bloom(r["logs"]), logs])
    return (bytes([r["txtype"]]) if r["txtype"] else b"") + body


def fund(node, from_addr, to, coins, blocks=1):
    """Deposits `coins` from the wallet's native `from_addr` to the 0x `to` (a MetaKey or an
    address) and mines; the deposit's native txid."""
    to = to.address if isinstance(to, MetaKey) else to
    txid = node.deposittometachain(from_addr, to, D(coins))
    mine(node, blocks)
    return txid


def storage_int(node, address, slot):
    """getmetastorageat as an int."""
    if isinstance(slot, int):
        slot = "0x" + slot.to_bytes(32, "big").hex()
    return int(node.getmetastorageat(address, slot), 16)


def meta_tip_hash(node):
    return h(node.getmetachaininfo()["hash"])


def expect_rpc_error(node, code, method, *params):
    """Calls `method`, which must fail with `code`; its message."""
    try:
        node.rpc(method, *params)
    except RPCError as e:
        assert e.code == code, (method, e.code, e.message)
        return e.message
    raise AssertionError(f"{method}{params} did not fail")
