"""Logs, filters, fee history and reorgs through the Ethereum JSON-RPC (docs/eth-rpc.md),
driven by web3.py and a plain WebSocket client (the `websockets` package), against the
metachain of a defid that mines its blocks, in each EthChain mode:

- web3's `contract.events.Transfer.get_logs`, `w3.eth.filter` (log and block filters),
  `fee_history`, txs built with web3's own EIP-1559 fee defaults;
- a native reorg by defid's `invalidateblock`: `eth_getLogs` stops returning the dropped
  logs, a `logs` subscriber receives them with `removed: true`, the dropped tx's receipt
  is null until it is mined again, and then everything comes back."""
import json
import time

import pytest
from websockets.sync.client import connect as ws_connect

from framework.eth_chain import ETH_MODES, EthChain
from framework.metachain import mine


@pytest.fixture(scope="module", params=ETH_MODES)
def chain(request, defid_bin, metachaind_bin, tmp_path_factory):
    c = EthChain(request.param, defid_bin, metachaind_bin, tmp_path_factory.mktemp(f"eth-logs-{request.param}"))
    yield c
    c.stop()


class Ws:
    """A JSON-RPC client over one WebSocket."""

    def __init__(self, url):
        self.conn = ws_connect(url, open_timeout=10)
        self.next_id = 0
        self.notes = []

    def call(self, method, params):
        self.next_id += 1
        self.conn.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.conn.recv(timeout=10))
            if msg.get("id") == self.next_id:
                return msg
            self.notes.append(msg)

    def subscribe(self, *params):
        answer = self.call("eth_subscribe", list(params))
        assert "result" in answer, answer
        return answer["result"]

    def notification(self, sub):
        """The next notification of subscription `sub` (10 s at most)."""
        deadline = time.time() + 10
        while True:
            for i, n in enumerate(self.notes):
                if n["params"]["subscription"] == sub:
                    return self.notes.pop(i)["params"]["result"]
            left = deadline - time.time()
            assert left > 0, f"no notification for {sub}"
            self.notes.append(json.loads(self.conn.recv(timeout=left)))

    def close(self):
        self.conn.close()


def test_events_filters_and_fee_history(chain):
    w3 = chain.w3
    key = chain.funded_key(10)
    token, _ = chain.deploy(key, "Token", "Tok", "TOK", 10**24)
    other = "0x" + "42" * 20
    log_filter = w3.eth.filter({"address": token.address, "fromBlock": "latest"})
    block_filter = w3.eth.filter("latest")

    # web3's own fee defaults (maxPriorityFeePerGas + the latest base fee) get mined.
    tx = token.functions.transfer(other, 1234).build_transaction({"from": key.address})
    assert tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"] > 0
    receipt = chain.send(key, tx)
    assert receipt.status == 1

    events = token.events.Transfer.get_logs(from_block=0)
    sent = [e for e in events if e.args.to == w3.to_checksum_address(other)]
    assert len(sent) == 1
    assert sent[0].args.value == 1234
    assert sent[0].transactionHash == receipt.transactionHash
    assert sent[0].blockNumber == receipt.blockNumber
    assert list(token.events.Transfer.get_logs(from_block=receipt.blockNumber + 1)) == []

    entries = log_filter.get_new_entries()
    assert [e["transactionHash"] for e in entries] == [receipt.transactionHash]
    assert log_filter.get_new_entries() == []
    assert receipt.blockHash in block_filter.get_new_entries()
    assert w3.eth.uninstall_filter(log_filter.filter_id)

    fees = w3.eth.fee_history(3, "latest", [10, 90])
    assert fees["oldestBlock"] == receipt.blockNumber - 2
    assert len(fees["baseFeePerGas"]) == 4 and len(fees["gasUsedRatio"]) == 3
    assert fees["reward"][-1] == [tx["maxPriorityFeePerGas"]] * 2
    assert w3.eth.max_priority_fee == tx["maxPriorityFeePerGas"]

    # State at an older block.
    before = receipt.blockNumber - 1
    assert token.functions.balanceOf(other).call(block_identifier=before) == 0
    assert token.functions.balanceOf(other).call() == 1234


def test_invalidateblock_drops_and_restores_logs(chain):
    w3 = chain.w3
    key = chain.funded_key(10)
    token, _ = chain.deploy(key, "Token", "Tok", "TOK", 10**24)
    ws = Ws(chain.ws_url)
    try:
        logs_sub = ws.subscribe("logs", {"address": token.address})
        heads_sub = ws.subscribe("newHeads")
        receipt = chain.send(key, token.functions.transfer("0x" + "43" * 20, 77).build_transaction({"from": key.address}))
        txhash = receipt.transactionHash
        live = ws.notification(logs_sub)
        assert live["removed"] is False and live["transactionHash"] == txhash.to_0x_hex()
        head = ws.notification(heads_sub)
        assert int(head["number"], 16) == receipt.blockNumber
        assert len(token.events.Transfer.get_logs(from_block=receipt.blockNumber)) == 1

        # The native block that carried it goes: so do its logs and receipt.
        native_tip = chain.node.getbestblockhash()
        height = chain.node.getblockcount()
        chain.node.invalidateblock(native_tip)
        assert chain.node.getblockcount() == height - 1
        gone = ws.notification(logs_sub)
        assert gone["removed"] is True
        assert {k: v for k, v in gone.items() if k != "removed"} == {k: v for k, v in live.items() if k != "removed"}
        assert list(token.events.Transfer.get_logs(from_block=receipt.blockNumber)) == []
        assert w3.eth.get_block_number() == receipt.blockNumber - 1
        assert w3.eth.get_transaction(txhash)["blockHash"] is None  # back in the pool
        with pytest.raises(Exception):
            w3.eth.get_transaction_receipt(txhash)

        # Mined again on the new chain (to another address: the same block again
        # would be the invalid one): the log and receipt are back.
        mine(chain.node, 1, to=chain.node.getnewaddress())
        again = w3.eth.wait_for_transaction_receipt(txhash, timeout=30, poll_latency=0.1)
        assert again.status == 1 and again.blockNumber == receipt.blockNumber
        back = ws.notification(logs_sub)
        assert back["removed"] is False and back["blockHash"] == again.blockHash.to_0x_hex()
        assert len(token.events.Transfer.get_logs(from_block=again.blockNumber)) == 1
        assert token.functions.balanceOf("0x" + "43" * 20).call() == 77
    finally:
        ws.close()


def test_bad_input_is_answered_with_ethereum_errors(chain):
    """Malformed hex, wrong chain id, unknown tags, reversed ranges, five topics, oversized
    batches: each an error object, and the endpoint still answers."""
    import requests

    url = chain.http_url
    tip = chain.w3.eth.get_block_number()

    def rpc(method, params):
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10)
        return r.json()

    cases = [
        ("eth_getBalance", ["0xzz", "latest"], -32602),
        ("eth_getBalance", ["0x" + "11" * 20, "safest"], -32602),
        ("eth_getBlockByNumber", ["0x1x", False], -32602),
        ("eth_getLogs", [{"fromBlock": hex(tip), "toBlock": "0x0"}], -32602),
        ("eth_getLogs", [{"topics": ["0x" + "00" * 32] * 5}], -32602),
        ("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0xffffffffffffffffff"}], -32602),
        ("eth_sendRawTransaction", ["0x02"], -32000),
        ("eth_call", [{"to": "0x" + "11" * 19}], -32602),
        ("eth_feeHistory", ["0x2", "latest", [90, 10]], -32602),
        ("eth_getFilterChanges", ["0xdeadbeef"], -32000),
        ("eth_subscribe", ["newHeads"], None),  # no subscriptions over HTTP
    ]
    for method, params, code in cases:
        answer = rpc(method, params)
        assert "error" in answer, (method, params, answer)
        if code is not None:
            assert answer["error"]["code"] == code, (method, params, answer)

    # A tx signed for another chain id is refused and nothing changes.
    key = chain.funded_key(1)
    signed = key.account.sign_transaction({"to": "0x" + "44" * 20, "value": 1, "gas": 21000, "maxFeePerGas": 10**10,
                                           "maxPriorityFeePerGas": 10**9, "nonce": 0, "chainId": 1})
    answer = rpc("eth_sendRawTransaction", [signed.raw_transaction.to_0x_hex()])
    assert answer["error"]["code"] == -32000 and "chain" in answer["error"]["message"], answer
    assert chain.w3.eth.get_transaction_count(key.address, "pending") == 0

    # An oversized batch is one error, not a crash.
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber", "params": []} for i in range(5000)]
    r = requests.post(url, json=batch, timeout=30)
    body = r.json()
    assert isinstance(body, dict) and "error" in body, str(body)[:200]
    assert chain.w3.eth.get_block_number() == tip + 1
