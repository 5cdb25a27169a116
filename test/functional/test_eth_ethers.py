"""ethers v6, a client we did not write, against the metachain's Ethereum JSON-RPC
(docs/eth-rpc.md), in every mode of framework/eth_chain.py (ETH_MODES: metachaind over gRPC, over JSON-RPC, ffi).

A deposit funds a key; then test/ethers/flow.mjs (node, ethers pinned in
test/ethers/package-lock.json, installed by `./make.sh deps`) runs its steps while a
miner thread makes a block every 0.3 s: JsonRpcProvider and the chain id, a
ContractFactory deploy of Token.sol with ethers' own fee defaults and gas estimate,
`waitForDeployment`, a transfer with `tx.wait()` and its Transfer event parsed from the
receipt, balances, `estimateGas`, reverts as CALL_EXCEPTION with the reason
(Reverter.sol), `getLogs`, and a WebSocketProvider on the same port receiving a block
and a contract Transfer event. The script prints one JSON line: each test here checks
one step of it (and what web3.py sees of it), so a failing step names itself."""
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from conftest import ROOT
from framework import contracts
from framework.eth_chain import ETH_MODES, EthChain
from framework.meta_key import GWEI, REGTEST_CHAIN_ID, MetaKey

ETHERS_DIR = os.path.join(ROOT, "test", "ethers")
FLOW = os.path.join(ETHERS_DIR, "flow.mjs")
SUPPLY = 10**24
RECIPIENT_SECRET = 0xE74FF  # flow.mjs's default recipient key
STEP_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 360


def _node():
    node = shutil.which("node")
    assert node, "node not found on PATH: ./make.sh deps installs nodejs and npm"
    if not os.path.exists(os.path.join(ETHERS_DIR, "node_modules", "ethers", "package.json")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ETHERS_DIR,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci in test/ethers failed:\n{r.stdout}{r.stderr}"
    return node


@dataclass
class Flow:
    mode: str
    chain: EthChain = field(repr=False)
    key: MetaKey
    out: dict = field(repr=False)  # the script's JSON line
    returncode: int
    stderr: str = field(repr=False)
    blocks_mined: int

    @property
    def steps(self):
        return self.out["steps"]

    def require(self, *names):
        """Fails (naming the step and its error) unless each step passed."""
        for name in names:
            status = self.steps.get(name, "missing from the output")
            assert status == "ok", (f"[{self.mode}] flow.mjs step {name}: {status}\n"
                                    f"--- flow.mjs stderr (tail) ---\n{self.stderr[-3000:]}")

    def token(self):
        return self.chain.w3.eth.contract(address=self.out["token"], abi=contracts.load("Token").abi)


@pytest.fixture(scope="module", params=ETH_MODES)
def flow(request, defid_bin, metachaind_bin, tmp_path_factory):
    node = _node()
    chain = EthChain(request.param, defid_bin, metachaind_bin, tmp_path_factory.mktemp(f"ethers_{request.param}"))
    try:
        key = chain.funded_key(10)
        contracts.load("Token")  # compiles test/contracts if build/ is stale
        config = {
            "http": chain.http_url, "ws": chain.ws_url, "privateKey": "0x" + key.secret.hex(),
            "chainId": REGTEST_CHAIN_ID,
            "tokenArtifact": os.path.join(contracts.BUILD_DIR, "Token.json"),
            "reverterArtifact": os.path.join(contracts.BUILD_DIR, "Reverter.json"),
            "recipientKey": "0x" + RECIPIENT_SECRET.to_bytes(32, "big").hex(),
            "timeoutMs": STEP_TIMEOUT_MS, "totalTimeoutMs": (RUN_TIMEOUT_S - 30) * 1000,
        }
        with chain.mining(interval=0.3) as miner:
            try:
                r = subprocess.run([node, FLOW], input=json.dumps(config), cwd=ETHERS_DIR, capture_output=True,
                                   text=True, timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired as e:
                pytest.fail(f"flow.mjs did not finish in {RUN_TIMEOUT_S} s:\n{e.stderr}")
        lines = r.stdout.strip().splitlines()
        assert lines and lines[-1].startswith("{"), \
            f"flow.mjs printed no result (exit {r.returncode}):\n{r.stdout}\n{r.stderr}"
        out = json.loads(lines[-1])
        yield Flow(request.param, chain, key, out, r.returncode, r.stderr, miner["blocks"])
    finally:
        chain.stop()


def test_network_and_fee_data(flow):
    flow.require("network")
    assert flow.out["ethers"].startswith("6.")
    assert int(flow.out["chainId"]) == REGTEST_CHAIN_ID
    fee = flow.out["feeData"]
    # ethers: the suggested tip (eth_maxPriorityFeePerGas), and 2 x base fee + tip.
    assert int(fee["maxPriorityFeePerGas"]) == GWEI
    assert int(fee["maxFeePerGas"]) >= 3 * GWEI
    assert int(fee["gasPrice"]) >= 2 * GWEI
    assert flow.out["deployer"] == flow.key.address
    assert flow.blocks_mined > 0


def test_deploy_with_ethers_defaults(flow):
    flow.require("deploy")
    w3, out = flow.chain.w3, flow.out
    tx, receipt = out["deployTx"], out["deployReceipt"]
    assert tx["type"] == 2 and tx["nonce"] == 0
    assert int(tx["maxPriorityFeePerGas"]) == GWEI
    assert receipt["status"] == 1 and receipt["contractAddress"] == out["token"]
    assert 0 < int(receipt["gasUsed"]) <= int(tx["gasLimit"])
    # What web3.py sees of the same deployment.
    assert w3.eth.get_code(out["token"]) == contracts.load("Token").deployed_bytecode
    got = w3.eth.get_transaction_receipt(tx["hash"])
    assert got.status == 1 and got.contractAddress == out["token"] and got.blockNumber == receipt["blockNumber"]
    assert got.gasUsed == int(receipt["gasUsed"])
    assert w3.eth.get_transaction(tx["hash"]).gas == int(tx["gasLimit"])


def test_transfer_receipt_event_and_balances(flow):
    flow.require("transfer", "balances")
    out, token = flow.out, flow.token()
    recipient = MetaKey(RECIPIENT_SECRET).address
    assert out["recipient"] == recipient
    assert out["transfer"]["status"] == 1
    assert out["transfer"]["events"] == [{"from": flow.key.address, "to": recipient, "value": "5"}]
    b = out["balances"]
    assert (int(b["deployer"]), int(b["recipient"]), int(b["totalSupply"])) == (SUPPLY - 5, 5, SUPPLY)
    assert out["name"] == "Tok"
    # web3.py agrees, counting the WebSocket step's transfer of 7 if it was sent.
    sent_ws = 7 if out.get("wsTransferSent") else 0
    assert token.functions.balanceOf(recipient).call() == 5 + sent_ws
    assert token.functions.balanceOf(flow.key.address).call() == SUPPLY - 5 - sent_ws
    receipt = flow.chain.w3.eth.get_transaction_receipt(out["transfer"]["hash"])
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert (event.args["from"], event.args.to, event.args.value) == (flow.key.address, recipient, 5)


def test_estimate_gas(flow):
    flow.require("estimate")
    assert 21_000 < int(flow.out["estimateGas"]) < 100_000


def test_reverts_are_call_exceptions_with_reasons(flow):
    flow.require("reverts")
    r = flow.out["reverts"]
    assert r["call"] == {"code": "CALL_EXCEPTION", "reason": "nope: always reverts"}
    assert r["estimate"] == {"code": "CALL_EXCEPTION", "reason": "nope: always reverts"}
    assert r["staticCall"] == {"code": "CALL_EXCEPTION", "reason": "nope: write rolled back"}
    assert r["custom"]["name"] == "Refused" and r["custom"]["args"] == ["7"]
    assert r["mined"]["code"] == "CALL_EXCEPTION" and r["mined"]["status"] == 0
    assert flow.chain.w3.eth.get_transaction_receipt(r["mined"]["hash"]).status == 0
    assert int(r["writes"]) == 0


def test_get_logs(flow):
    flow.require("get_logs")
    out = flow.out
    by_tx = {log["tx"]: log for log in out["getLogs"]}
    assert set(by_tx) == {out["deployTx"]["hash"], out["transfer"]["hash"]}, out["getLogs"]
    log = by_tx[out["transfer"]["hash"]]
    assert log["block"] == out["transfer"]["blockNumber"]
    assert int(log["data"], 16) == 5
    assert log["topics"][1][-40:].lower() == flow.key.address[2:].lower()
    assert log["topics"][2][-40:].lower() == out["recipient"][2:].lower()
    assert out["queryFilter"] >= 1


def test_websocket_block_event(flow):
    flow.require("ws_connect", "ws_block")
    assert flow.out["wsBlock"] >= flow.out["wsBlockNumber"]


def test_websocket_contract_transfer_event(flow):
    flow.require("ws_connect", "ws_transfer")
    ev = flow.out["wsTransfer"]
    assert ev["tx"] == flow.out["wsTransferSent"]
    assert (ev["from"], ev["to"], ev["value"]) == (flow.key.address, flow.out["recipient"], "7")
    assert int(flow.out["recipientBalanceAfterWs"]) == 12
    receipt = flow.chain.w3.eth.get_transaction_receipt(ev["tx"])
    assert receipt.status == 1 and receipt.blockNumber == ev["block"]


def test_script_exits_cleanly(flow):
    assert flow.out["failed"] == [] and flow.out["ok"] is True, flow.out["steps"]
    assert flow.returncode == 0, flow.stderr[-3000:]
