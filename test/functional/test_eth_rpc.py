"""The Ethereum JSON-RPC (eth_*, net_*, web3_*, docs/eth-rpc.md) driven by web3.py, a
client we did not write, against the metachain of a defid that mines its blocks:

- "metachaind": a metachaind fed by defid (-meta_rpc over gRPC), web3 on its http://;
- "ffi": defid's embedded metachain serving on -meta="--rpc-addr=...".

A deposit funds an eth-account key; web3 deploys the ERC-20 (test/contracts/Token.sol)
with a signed raw tx (its own fee and gas defaults), defid's generatetoaddress mines it,
then balances, a transfer with its Transfer event, gas estimates, a revert surfacing as
ContractLogicError with its reason (Reverter.sol), blocks with full txs and txs by hash."""
import pytest
from web3.exceptions import BlockNotFound, ContractCustomError, ContractLogicError, Web3RPCError

from framework import contracts
from framework.eth_chain import ETH_MODES, EthChain
from framework.meta_key import GWEI, REGTEST_CHAIN_ID, WEI_PER_COIN, MetaKey


@pytest.fixture(scope="module", params=ETH_MODES)
def chain(request, defid_bin, metachaind_bin, tmp_path_factory):
    c = EthChain(request.param, defid_bin, metachaind_bin, tmp_path_factory.mktemp(f"eth_{request.param}"))
    yield c
    c.stop()


def test_chain_identity_and_tip(chain):
    w3 = chain.w3
    assert w3.is_connected()
    assert w3.eth.chain_id == REGTEST_CHAIN_ID
    assert w3.net.version == str(REGTEST_CHAIN_ID)
    assert w3.net.listening is True
    assert w3.client_version.startswith("metachaind/v")
    assert w3.eth.syncing is False
    assert w3.eth.accounts == []
    assert w3.eth.block_number == chain.node.getblockcount()
    assert w3.keccak(text="hello").hex().endswith("1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8")
    latest = w3.eth.get_block("latest")
    assert latest.number == chain.node.getblockcount()
    assert w3.eth.gas_price == latest.baseFeePerGas + w3.eth.max_priority_fee
    with pytest.raises(BlockNotFound):  # the node answers null
        w3.eth.get_block(10**6)
    genesis = w3.eth.get_block("earliest")
    assert genesis.number == 0
    assert w3.eth.get_block(1).parentHash == genesis.hash


def test_deposit_deploy_transfer_and_read(chain):
    w3 = chain.w3
    key = chain.funded_key(10)
    assert w3.eth.get_balance(key.address) == 10 * WEI_PER_COIN
    assert w3.eth.get_transaction_count(key.address) == 0

    supply = 10**24
    token, receipt = chain.deploy(key, "Token", "Tok", "TOK", supply)
    assert w3.eth.get_code(token.address) == contracts.load("Token").deployed_bytecode
    assert token.functions.balanceOf(key.address).call() == supply
    assert token.functions.totalSupply().call() == supply
    assert w3.eth.get_transaction_count(key.address) == 1
    # Fees: the sender paid gas used × the effective price, no more.
    paid = receipt.gasUsed * receipt.effectiveGasPrice
    assert w3.eth.get_balance(key.address) == 10 * WEI_PER_COIN - paid
    assert receipt.effectiveGasPrice >= GWEI

    to = MetaKey(0xE74FF).address
    transfer = token.functions.transfer(to, 5)
    gas = transfer.estimate_gas({"from": key.address})
    assert 21_000 < gas < 100_000, gas
    tx = transfer.build_transaction({"from": key.address, "gas": gas})
    receipt = chain.send(key, tx)
    assert receipt.status == 1 and receipt.gasUsed <= gas
    assert token.functions.balanceOf(to).call() == 5
    assert token.functions.balanceOf(key.address).call() == supply - 5
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert (event.args["from"], event.args.to, event.args.value) == (key.address, to, 5)
    assert event.logIndex == 0 and event.blockHash == receipt.blockHash
    # The balance slot of the ERC-20 mapping, read directly.
    slot = contracts.erc20_balance_slot(to)
    assert int.from_bytes(w3.eth.get_storage_at(token.address, slot), "big") == 5

    got = w3.eth.get_transaction(receipt.transactionHash)
    assert got["from"] == key.address and got.to == token.address
    assert got.blockNumber == receipt.blockNumber and got.blockHash == receipt.blockHash
    assert got.transactionIndex == receipt.transactionIndex
    assert got.nonce == 1 and got.gas == gas and got.type == 2
    assert bytes(got.input) == bytes.fromhex(tx["data"][2:])

    block = w3.eth.get_block("latest", full_transactions=True)
    assert block.number == receipt.blockNumber == chain.node.getblockcount()
    assert block.hash == receipt.blockHash
    assert block.gasUsed == receipt.gasUsed and block.gasLimit == 30_000_000
    assert block.baseFeePerGas >= GWEI
    assert block.transactions[0].hash == receipt.transactionHash
    assert block.transactions[0]["from"] == key.address
    by_hash = w3.eth.get_block(block.hash)
    assert by_hash.transactions == [receipt.transactionHash]
    assert by_hash.stateRoot == block.stateRoot and by_hash.parentHash == block.parentHash
    assert w3.eth.get_block(block.number - 1).hash == block.parentHash

    # State at an older block is read through the undo data; the deploy's gas
    # was paid in this block.
    assert w3.eth.get_balance(key.address, block_identifier=block.number - 1) > w3.eth.get_balance(key.address)
    assert w3.eth.get_code(token.address, block_identifier="earliest") == b""
    with pytest.raises(Web3RPCError, match="header not found"):
        w3.eth.get_balance(key.address, block_identifier=block.number + 5)
    assert w3.eth.get_balance(key.address, block_identifier=block.number) == w3.eth.get_balance(key.address)


def test_reverts_surface_as_contract_logic_errors(chain):
    w3 = chain.w3
    key = chain.funded_key(10)
    reverter, _ = chain.deploy(key, "Reverter")
    with pytest.raises(ContractLogicError, match="nope: always reverts"):
        reverter.functions.fail().call()
    with pytest.raises(ContractLogicError, match="nope: always reverts"):
        reverter.functions.fail().estimate_gas({"from": key.address})
    with pytest.raises(ContractLogicError, match="nope: write rolled back"):
        reverter.functions.writeThenFail(3).call({"from": key.address})
    # A custom error comes back as its data.
    with pytest.raises(ContractCustomError) as custom:
        reverter.functions.failCustom(7).call()
    assert custom.value.data.startswith("0x") and custom.value.data.endswith("07")

    # A call does not change anything; a mined call does.
    gas = reverter.functions.store(42).estimate_gas({"from": key.address})
    receipt = chain.send(key, reverter.functions.store(42).build_transaction({"from": key.address, "gas": gas}))
    assert receipt.status == 1
    assert reverter.functions.value().call() == 42
    assert reverter.functions.writes().call() == 1
    (stored,) = reverter.events.Stored().process_receipt(receipt)
    assert stored.args.by == key.address and stored.args.value == 42

    # A tx that reverts when mined: status 0, and web3 shows the tx.
    receipt = chain.send(key, {"to": reverter.address, "data": reverter.encode_abi("fail", args=[]),
                               "gas": 100_000, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI})
    assert receipt.status == 0
    assert w3.eth.get_transaction(receipt.transactionHash).to == reverter.address


def test_deposit_is_a_system_tx_in_the_block(chain):
    w3 = chain.w3
    key = chain.funded_key(2)
    block = w3.eth.get_block("latest", full_transactions=True)
    deposits = [t for t in block.transactions if t.get("to") == key.address]
    assert len(deposits) == 1, block.transactions
    d = deposits[0]
    assert d.type == 0x7E and d.value == 2 * WEI_PER_COIN
    receipt = w3.eth.get_transaction_receipt(d.hash)
    assert receipt.status == 1 and receipt.gasUsed == 0 and receipt.blockHash == block.hash
    assert w3.eth.get_transaction(d.hash).blockNumber == block.number
