"""The wallet and the mempool under misuse, in every mode: a refused meta
call takes no nonce, a withdrawal the metachain would refuse is refused at
the RPC, two withdrawals with one meta nonce cannot both be pending (nor
come back after a restart), and thousands of new keys in one batch are quick
and all survive kill -9."""
import base64
import json

import pytest
import requests

from conftest import MODES
from framework.messages import NativeKey
from framework.meta_key import WEI_PER_COIN, MetaKey, txid as raw_txid, withdrawal
from framework.metachain import COIN, FEE, FEE_SAT, D, assert_invariant, mine
from framework.test_node import RPCError


@pytest.fixture
def funded(node_in_mode):
    """A node in `mode` with 90 coins on `addr` and 10 on the wallet meta address `meta`."""
    def make(mode):
        node, server = node_in_mode(mode)
        node.wait_for_rpc()
        addr, meta = node.getnewaddress(), node.getnewmetaaddress()
        mine(node, 2, addr)
        node.deposittometachain(addr, meta, 10)
        mine(node, 1, addr)
        return node, server, addr, meta
    return make


def restart(node, server, mode, kill=False, extra_args=()):
    node.kill() if kill else node.stop_process()
    if server:
        node.extra_args = server.defid_args(mode)
    node.extra_args += list(extra_args)
    node.start().wait_for_rpc()


def meta_state(node, *addrs):
    return [node.getmetabalance(a) for a in addrs]


@pytest.mark.parametrize("mode", MODES)
def test_failed_metatransfer_takes_no_nonce(funded, mode):
    node, _, addr, meta = funded(mode)
    other = node.getnewmetaaddress()
    before = (meta_state(node, meta, other), node.getmetachaininfo(), node.getrawmempool())
    for amount in (1000, 11):  # `meta` holds 10
        with pytest.raises(RPCError) as e:
            node.metatransfer(meta, other, amount)
        assert "insufficient" in e.value.message.lower(), e.value.message
    assert (meta_state(node, meta, other), node.getmetachaininfo(), node.getrawmempool()) == before
    # The next valid transfer from the same address goes through and is mined.
    node.metatransfer(meta, other, 1)
    mine(node, 1, addr)
    m, o = meta_state(node, meta, other)
    assert int(o["wei"]) == WEI_PER_COIN and m["nonce"] == m["pendingnonce"] == 1, (m, o)


@pytest.mark.parametrize("mode", MODES)
def test_withdrawal_above_the_meta_balance_is_refused_at_the_rpc(funded, mode):
    node, _, addr, meta = funded(mode)
    small, out = node.getnewmetaaddress(), node.getnewaddress()
    node.metatransfer(meta, small, 1)
    mine(node, 1, addr)
    # `small` holds 1; the lock holds 10, so only the metachain can say no.
    before = (meta_state(node, meta, small), node.getmetachaininfo(), node.getrawmempool(),
              node.getaddressbalance(out))
    with pytest.raises(RPCError) as e:
        node.withdrawfrommetachain(small, out, 5)
    assert e.value.code == -26 and "insufficient meta balance" in e.value.message, e.value.message
    assert (meta_state(node, meta, small), node.getmetachaininfo(), node.getrawmempool(),
            node.getaddressbalance(out)) == before
    # No nonce was taken: a withdrawal that fits goes through.
    node.withdrawfrommetachain(small, out, "0.5")
    mine(node, 1, addr)
    assert node.getrawmempool() == []
    assert D(node.getaddressbalance(out)["balance"]) == D("0.5") - FEE
    assert node.getmetabalance(small)["nonce"] == 1
    assert int(node.getmetabalance(small)["wei"]) == WEI_PER_COIN // 2


@pytest.mark.parametrize("mode", MODES)
def test_two_withdrawals_with_one_meta_nonce(funded, mode):
    node, server, addr, _ = funded(mode)
    key = MetaKey(0x2B2B)
    node.deposittometachain(addr, key.address, 5)
    mine(node, 1, addr)
    out1, out2 = node.getnewaddress(), node.getnewaddress()

    def raw(to):
        return withdrawal(key.address, to, COIN, FEE_SAT, 0, key.sign_withdrawal(to, COIN, 0))
    first, second = raw(out1), raw(out2)
    assert raw_txid(first) != raw_txid(second)
    assert node.sendrawtransaction(first.hex()) == raw_txid(first)
    with pytest.raises(RPCError) as e:
        node.sendrawtransaction(second.hex())
    assert e.value.code == -26 and ("conflict" in e.value.message or "nonce" in e.value.message), e.value.message
    assert node.getrawmempool() == [raw_txid(first)]
    # The same withdrawal through the RPC with the signature: the nonce is taken too.
    with pytest.raises(RPCError) as e:
        node.withdrawfrommetachain(key.address, out2, 1, key.sign_withdrawal(out2, COIN, 0).hex())
    assert e.value.code == -26, e.value.message
    assert node.getrawmempool() == [raw_txid(first)]
    restart(node, server, mode)
    assert node.getrawmempool() == [raw_txid(first)]
    mine(node, 1, addr)
    assert node.getrawmempool() == []
    assert D(node.getaddressbalance(out1)["balance"]) == 1 - FEE
    assert D(node.getaddressbalance(out2)["balance"]) == 0
    paid = node.getmetabalance(key.address)
    assert (int(paid["wei"]), paid["nonce"]) == (4 * WEI_PER_COIN, 1), paid


N_KEYS = 2000
# A hang guard, not a speed check (speed belongs to ./make.sh bench).
BATCH_TIMEOUT = 120


@pytest.mark.parametrize("mode", MODES)
def test_thousands_of_new_keys_in_one_batch_survive_kill_9(funded, mode):
    node, server, addr, meta = funded(mode)
    # The default batch cap is 1,000 requests: this batch needs twice that.
    restart(node, server, mode, extra_args=[f"-rpcbatchlimit={N_KEYS}"])
    body = [{"jsonrpc": "2.0", "id": i, "method": "getnewaddress", "params": []} for i in range(N_KEYS)]
    reply = requests.post(node.url, data=json.dumps(body), timeout=BATCH_TIMEOUT,
                          headers={"Authorization": "Basic " + base64.b64encode(node.auth().encode()).decode()})
    assert reply.status_code == 200, reply.text[:500]
    replies = reply.json()
    assert [r["id"] for r in replies] == list(range(N_KEYS))
    errors = [r["error"] for r in replies if r.get("error")]
    assert not errors, errors[:3]
    addrs = [r["result"] for r in replies]
    assert len(set(addrs)) == N_KEYS and all(a.startswith("dfrt1") for a in addrs)
    # Two of them get coins, so getbalance (the sum over wallet keys) sees them.
    mine(node, 1, addrs[0])
    mine(node, 1, addrs[-1])
    balance = D(node.getbalance())
    restart(node, server, mode, kill=True, extra_args=[f"-rpcbatchlimit={N_KEYS}"])
    assert D(node.getbalance()) == balance
    # Every key is still the wallet's: spending from it fails for want of funds,
    # not for want of a key (a stranger's address shows the difference).
    stranger = NativeKey(0x5EED).address

    def probe(addresses):
        calls = [{"jsonrpc": "2.0", "id": i, "method": "deposittometachain", "params": [a, meta, 1]}
                 for i, a in enumerate(addresses)]
        return [r.get("error") for r in node.post(calls).json()]
    (missing,) = probe([stranger])
    assert missing and missing["code"] == -5 and "no key" in missing["message"], missing
    lost = [(a, err) for a, err in zip(addrs[1:-1], probe(addrs[1:-1]))
            if not err or err["code"] != -6]
    assert not lost, f"{len(lost)} of {N_KEYS} keys lost or misreported after kill -9: {lost[:3]}"
    assert node.getrawmempool() == []
    assert_invariant(node)
