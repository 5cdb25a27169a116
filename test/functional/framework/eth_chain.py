"""EthChain: a defid mining a metachain, and that metachain's Ethereum JSON-RPC
(docs/eth-rpc.md), for the tests that drive it with a client we did not write
(test_eth_rpc.py with web3.py, test_eth_ethers.py with ethers v6).

    chain = EthChain("metachaind" or "ffi", defid_bin, metachaind_bin, tmp_path)
    chain.http_url, chain.ws_url        # http://host:port, ws://host:port (same port)
    key = chain.funded_key(10)          # a MetaKey funded by a mined deposit
    token, receipt = chain.deploy(key, "Token", "Tok", "TOK", 10**24)
    with chain.mining(interval=0.3):    # blocks keep coming while a client waits
        ...
    chain.stop()

Modes (ETH_MODES):
- "metachaind": a metachaind fed by defid (-meta_rpc over gRPC), its http:// and ws://;
- "metachaind-jsonrpc": the same, defid calling it over JSON-RPC;
- "ffi": defid's embedded metachain serving on -meta="--rpc-addr=..."."""
import contextlib
import re
import threading
from urllib.parse import urlsplit

from web3 import Web3

from . import contracts
from .meta_key import REGTEST_CHAIN_ID, MetaKey
from .metachain import mine
from .metachaind import Metachaind
from .test_node import TestNode

ETH_MODES = ["metachaind", "metachaind-jsonrpc", "ffi"]


class EthChain:
    """A defid mining a metachain, the web3 endpoint of that metachain, and native coins to deposit."""

    def __init__(self, mode, defid_bin, metachaind_bin, tmp):
        self.mode = mode
        self.server = None
        if mode in ("metachaind", "metachaind-jsonrpc"):
            self.server = Metachaind(metachaind_bin, str(tmp / "metachaind")).start()
            transport = "grpc" if mode == "metachaind" else "jsonrpc"
            self.node = TestNode(defid_bin, str(tmp / "node"), self.server.defid_args(transport)).start()
            self.node.wait_for_rpc()
            url = self.server.http_url
        else:
            self.node = TestNode(defid_bin, str(tmp / "node"),
                                 ["-meta=--grpc-addr=127.0.0.1:0 --rpc-addr=127.0.0.1:0"]).start()
            self.node.wait_for_rpc()
            urls = re.search(r"embedded metachain serving grpc://\S+ (http://\S+)", self.node.debug_log)
            assert urls, self.node.debug_log
            url = urls.group(1)
        self.http_url = url
        # HTTP and WebSocket are served on the same port.
        self.ws_url = "ws://" + urlsplit(url).netloc
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.addr = self.node.getnewaddress()
        self.node._mining_address = self.addr
        mine(self.node, 3)
        self._secret = 0xE7400

    def stop(self):
        self.node.kill()
        if self.server:
            self.server.stop()

    def mine(self, n=1):
        return mine(self.node, n)

    @contextlib.contextmanager
    def mining(self, interval=0.3):
        """Mines one block every `interval` seconds in a background thread while the
        body runs (checking the lock invariant after each, as `mine`); stops it on exit
        and re-raises the miner's error, if it had one. Yields a dict whose "blocks"
        counts the blocks mined so far."""
        stop = threading.Event()
        state = {"blocks": 0, "error": None}

        def run():
            while not stop.is_set():
                try:
                    mine(self.node, 1)
                    state["blocks"] += 1
                except Exception as e:  # noqa: BLE001 - reported to the caller on exit
                    state["error"] = e
                    return
                stop.wait(interval)

        thread = threading.Thread(target=run, name="eth-chain-miner", daemon=True)
        thread.start()
        try:
            yield state
        finally:
            stop.set()
            thread.join(timeout=90)
        assert not thread.is_alive(), "the miner thread did not stop"
        if state["error"] is not None:
            raise AssertionError(f"the miner thread failed after {state['blocks']} blocks") from state["error"]

    def funded_key(self, coins=10):
        self._secret += 1
        key = MetaKey(self._secret)
        self.node.deposittometachain(self.addr, key.address, coins)
        self.mine()
        return key

    def send(self, key, tx):
        """Fills the nonce and chain id, signs with eth-account, sends it raw, mines it; the receipt."""
        tx = dict(tx)
        tx.setdefault("nonce", self.w3.eth.get_transaction_count(key.address, "pending"))
        tx.setdefault("chainId", REGTEST_CHAIN_ID)
        signed = key.account.sign_transaction(tx)
        txhash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        assert txhash == signed.hash
        self.mine()
        return self.w3.eth.wait_for_transaction_receipt(txhash, timeout=30, poll_latency=0.1)

    def deploy(self, key, name, *args):
        c = contracts.load(name)
        factory = self.w3.eth.contract(abi=c.abi, bytecode=c.bytecode)
        tx = factory.constructor(*args).build_transaction({"from": key.address})
        receipt = self.send(key, tx)
        assert receipt.status == 1, receipt
        return self.w3.eth.contract(address=receipt.contractAddress, abi=c.abi), receipt
