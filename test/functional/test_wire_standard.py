"""metachaind speaks standard wire formats: clients that are not ours (grpcio
with stubs compiled from protobuf/ at test time, requests, websockets) work."""
import asyncio
import hashlib
import json
import os
import subprocess
import sys

import grpc
from google.protobuf import json_format
import pytest
import requests
import websockets

from conftest import ROOT
from framework import jwt


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """Python stubs compiled from protobuf/ by grpcio-tools."""
    out = tmp_path_factory.mktemp("pb")
    proto_dir = os.path.join(ROOT, "protobuf")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}",
                    f"--python_out={out}", f"--grpc_python_out={out}",
                    "metachain/types/v1/types.proto", "metachain/rpc/v1/rpc.proto"], check=True)
    sys.path.insert(0, str(out))
    from metachain.types.v1 import types_pb2
    from metachain.rpc.v1 import rpc_pb2_grpc
    return types_pb2, rpc_pb2_grpc


def _deposit_input(msgs, height, to, amount):
    return msgs.MetaMintBlockInput(
        txs=[msgs.NativeTx(kind=msgs.TX_KIND_DEPOSIT, to=to, amount=amount,
                           native_txid=hashlib.sha256(f"py{height}".encode()).digest())],
        context=msgs.NativeContext(height=height, time=1_700_000_000 + height))


ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"  # MetaKey(1).address
WEI_PER_UNIT = 10**10


def test_grpcio_client_with_compiled_stubs(metachaind, pb):
    msgs, svc = pb
    server = metachaind()
    channel = grpc.insecure_channel(server.grpc_url.removeprefix("grpc://"))
    stub = svc.MetachainStub(channel)
    assert stub.MetaGetTip(msgs.MetaGetTipInput()).number == 0

    with pytest.raises(grpc.RpcError) as err:
        stub.MetaMintBlock(_deposit_input(msgs, 1, ALICE, 5))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "control rpc" in err.value.details()

    auth = [("authorization", f"Bearer {jwt.token(server.secret_path)}")]
    minted = stub.MetaMintBlock(_deposit_input(msgs, 1, ALICE, 5), metadata=auth)
    assert not minted.refused
    # The commitment to the native txs is defined on the protobuf encoding,
    # so this independent implementation computes the same hash.
    native_txs = msgs.NativeTxList(txs=_deposit_input(msgs, 1, ALICE, 5).txs).SerializeToString()
    wrong_txs = msgs.NativeTxList(txs=_deposit_input(msgs, 1, ALICE, 6).txs).SerializeToString()
    with pytest.raises(grpc.RpcError) as err:
        stub.MetaConnectBlock(
            msgs.MetaConnectBlockInput(payload=minted.payload, context=msgs.NativeContext(height=1, time=1_700_000_001),
                                       native_txs_hash=hashlib.sha256(wrong_txs).digest()),
            metadata=auth)
    assert "does not match the native block" in err.value.details()
    assert stub.MetaGetTip(msgs.MetaGetTipInput()).number == 0
    connected = stub.MetaConnectBlock(
        msgs.MetaConnectBlockInput(payload=minted.payload, context=msgs.NativeContext(height=1, time=1_700_000_001),
                                   native_txs_hash=hashlib.sha256(native_txs).digest()),
        metadata=auth)
    assert connected.block_hash == minted.block_hash
    balance = stub.MetaGetBalance(msgs.MetaGetBalanceInput(address=ALICE.lower()))
    assert (balance.address, balance.balance_wei, balance.nonce) == (ALICE, str(5 * WEI_PER_UNIT), 0)

    stale = [("authorization", f"Bearer {jwt.token(server.secret_path, iat=1)}")]
    with pytest.raises(grpc.RpcError) as err:
        stub.MetaMintBlock(_deposit_input(msgs, 2, ALICE, 5), metadata=stale)
    assert "stale JWT" in err.value.details()


def test_native_tx_wire_format(pb):
    """NativeTx on the wire, by hand: field 7 (the meta pubkey) is gone, a
    withdrawal's signature is field 8; the commitment is sha256 of the
    NativeTxList encoding, which this independent encoder reproduces."""
    msgs, _ = pb
    fields = {f.name: f.number for f in msgs.NativeTx.DESCRIPTOR.fields}
    assert fields == {"kind": 1, "from": 2, "to": 3, "amount": 4, "native_txid": 5, "nonce": 6, "signature": 8}
    assert 7 not in {f.number for f in msgs.NativeTx.DESCRIPTOR.fields}

    def varint(n):
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def ld(field, b):
        return varint(field << 3 | 2) + varint(len(b)) + b

    txid, sig = bytes(range(32)), bytes([0xAB]) * 65
    w = msgs.NativeTx(kind=msgs.TX_KIND_WITHDRAW, to="dfrt1xyz", amount=12345, native_txid=txid, nonce=3,
                      signature=sig, **{"from": ALICE})
    by_hand = (varint(1 << 3) + varint(2) + ld(2, ALICE.encode()) + ld(3, b"dfrt1xyz") + varint(4 << 3)
               + varint(12345) + ld(5, txid) + varint(6 << 3) + varint(3) + ld(8, sig))
    assert w.SerializeToString() == by_hand
    listing = msgs.NativeTxList(txs=[w, w]).SerializeToString()
    assert listing == ld(1, by_hand) * 2


def test_grpc_reflection_lists_the_service(metachaind):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
    server = metachaind()
    channel = grpc.insecure_channel(server.grpc_url.removeprefix("grpc://"))
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert "metachain.rpc.v1.Metachain" in services


def _post(url, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return requests.post(url, data=body if isinstance(body, str) else json.dumps(body),
                         headers=headers, timeout=10)


def test_plain_http_json_rpc(metachaind, pb):
    msgs, _ = pb
    server = metachaind()
    tip = _post(server.http_url, {"jsonrpc": "2.0", "id": 1, "method": "meta_getTip", "params": []}).json()
    # Proto3 JSON: the genesis number 0 is left out, and protobuf's own JSON
    # parser reads the result into the generated message.
    assert "number" not in tip["result"]
    parsed = json_format.ParseDict(tip["result"], msgs.MetaGetTipResult())
    assert parsed.number == 0 and len(parsed.hash) == 64
    assert _post(server.http_url, "{not json").json()["error"]["code"] == -32700
    assert _post(server.http_url, {"jsonrpc": "2.0", "id": 1, "method": "nope"}).json()["error"]["code"] == -32601
    bad = _post(server.http_url, {"jsonrpc": "2.0", "id": 1, "method": "meta_getBalance",
                                  "params": [{"address": ALICE, "extra": 1}]}).json()
    assert bad["error"]["code"] == -32602 and "unknown field" in bad["error"]["message"]
    control = {"jsonrpc": "2.0", "id": 1, "method": "metaConsensusRpc_mintBlock", "params": [{}]}
    assert _post(server.http_url, control).json()["error"]["code"] == -32005
    ok = _post(server.http_url, control, jwt.token(server.secret_path)).json()
    assert "payload" in ok["result"]
    batch = _post(server.http_url, [{"jsonrpc": "2.0", "id": i, "method": "meta_getVersion"} for i in (1, 2)]).json()
    assert sorted(r["id"] for r in batch) == [1, 2]


def test_websocket_subscription_receives_new_heads(metachaind):
    server = metachaind()

    async def scenario():
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "metaSubscribe_newHeads", "params": []}))
            sub_id = json.loads(await ws.recv())["result"]
            token = jwt.token(server.secret_path)
            for height in (1, 2):
                minted = _post(server.http_url, {"jsonrpc": "2.0", "id": 2, "method": "metaConsensusRpc_mintBlock",
                                                 "params": [{"context": {"height": height, "time": height}}]},
                               token).json()["result"]
                _post(server.http_url, {"jsonrpc": "2.0", "id": 3, "method": "metaConsensusRpc_connectBlock",
                                        "params": [{"payload": minted["payload"],
                                                    "context": {"height": height, "time": height},
                                                    # No native txs: the hash of an empty list.
                                                    "nativeTxsHash": hashlib.sha256(b"").hexdigest()}]}, token)
                note = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert note["method"] == "metaSubscription_newHeads"
                assert note["params"]["subscription"] == sub_id
                assert note["params"]["result"]["number"] == height
                assert note["params"]["result"]["hash"] == minted["blockHash"]
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "metaUnsubscribe_newHeads",
                                      "params": [sub_id]}))
            assert json.loads(await ws.recv())["result"] is True

    asyncio.run(scenario())
