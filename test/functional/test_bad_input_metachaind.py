"""Bad input of every kind against a real metachaind, generated from its own
method tables: the JSON-RPC methods and their param schemas from
`rpc.discover` (OpenRPC), the gRPC methods and message types from server
reflection. A new rpc is swept without a line here.

Every answer must be well-formed (a JSON-RPC error object with a code, a
result, or a gRPC status), the process must live on, and the metachain state
(tip, supply, mempool) must be unchanged after every call: nothing sent here
is a valid state-changing call.
"""
import json
import random
import time

import grpc
import requests
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from framework import jwt

MB = 1 << 20
DEEP = 40_000
# A value for every field, whatever its type: wrong types, numbers at and past
# the 64-bit bounds, exponent forms, a 1 MB string, bad escapes, non-UTF-8,
# nesting within and far past the 100-level limit.
BAD_VALUES = [
    b"null", b"true", b'"x"', b"[]", b"{}", b"[1]", b'{"a":1}',
    b"-1", b"0", b"1.5", b"1e2", b"1E+2", b"-0", b"0e0",
    b"9223372036854775807", b"9223372036854775808", b"18446744073709551615",
    b"18446744073709551616", b"-9223372036854775809", b"1e400", b"-1e400", b"1" * 400,
    b'"' + b"a" * MB + b'"', b'"' + b"0" * 65 + b'"', b'"0x00"', b'"zz"',
    b'"\\x"', b'"\\ud800"', b'"\\u00"', b'"\xff\xfe"', b'"\x01"',
    b"[" * 99 + b"]" * 99, b"[" * DEEP + b"]" * DEEP,
]
# Whole params: not a structure, too many, too few, named, unknown names.
BAD_PARAMS = [
    b"5", b'"x"', b"true", b"null", b"[]", b"{}", b"[5]", b'["x"]', b"[null]", b"[[]]",
    b"[{},{}]", b"[{},1]", b"[1e400]", b'[{"nope":1}]', b'{"nope":1}', b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
]
PANIC_WORDS = ("panicked", "handler failed")


class Sweep:
    """Sends requests, checks each answer and the state after it, and counts."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()
        self.probe = requests.Session()
        self.counts = dict(requests=0, jsonrpc=0, grpc=0, crashes=0, hangs=0, state_changes=0,
                           malformed=0, panics=0, results=0, grpc_ok=0)
        self.failures = []
        self.accepted = {}
        self.next_id = 1
        self.state = self.snapshot()

    def call(self, method, params=None):
        body = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params or []}
        return self.probe.post(self.server.http_url, json=body, timeout=10).json()["result"]

    def snapshot(self):
        tip = self.call("meta_getTip")
        status = self.call("meta_getStatus")
        return tip, status.get("height", 0), status.get("hash"), status.get("mempoolSize", 0)

    def fail(self, kind, what, detail):
        self.counts[kind] += 1
        if len(self.failures) < 20:
            self.failures.append(f"{kind}: {what}: {str(detail)[:300]}")

    def after(self, what):
        """The process lives and the state is what it was."""
        if self.server.process.poll() is not None:
            self.fail("crashes", what, f"exit {self.server.process.returncode}")
            raise AssertionError(f"metachaind died after {what}: {self.failures}")
        state = self.snapshot()
        if state != self.state:
            self.fail("state_changes", what, f"{self.state} -> {state}")
            self.state = state

    def headers(self, content_type="application/json"):
        return {"content-type": content_type,
                "authorization": f"Bearer {jwt.token(self.server.secret_path)}"}

    def post(self, what, body, content_type="application/json", method="POST"):
        """One raw HTTP request; returns (status, parsed JSON or None, text)."""
        self.counts["requests"] += 1
        self.counts["jsonrpc"] += 1
        try:
            r = self.session.request(method, self.server.http_url, data=body,
                                     headers=self.headers(content_type), timeout=10)
        except requests.Timeout:
            self.fail("hangs", what, "no answer in 10 s")
            self.after(what)
            return None, None, ""
        try:
            parsed = r.json() if r.content else None
        except ValueError:
            parsed = None
        self.after(what)
        return r.status_code, parsed, r.text

    def rpc(self, what, method, params, expect=None):
        """A call with raw `params`; the reply must be a result or a JSON-RPC
        error with an integer code (`expect` if given)."""
        rid = self.next_id
        self.next_id += 1
        body = b'{"jsonrpc":"2.0","id":%d,"method":%s,"params":%s}' % (rid, json.dumps(method).encode(), params)
        status, reply, text = self.post(what, body)
        if status is None:
            return
        self.check_reply(what, status, reply, text, rid, expect)

    def check_reply(self, what, status, reply, text, rid, expect=None):
        if status != 200 or not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0" \
                or reply.get("id") not in (rid, None):
            self.fail("malformed", what, f"HTTP {status}: {text[:200]}")
            return
        if "result" in reply and "error" not in reply:
            self.counts["results"] += 1
            self.accepted.setdefault(what.split()[0], []).append(what)
            if expect is not None:
                self.fail("malformed", what, f"expected error {expect}, got a result")
            return
        error = reply.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), int) \
                or not isinstance(error.get("message"), str):
            self.fail("malformed", what, text[:200])
        elif expect is not None and error["code"] != expect:
            self.fail("malformed", what, f"expected code {expect}: {error}")
        elif error["code"] == -32603 and any(w in error["message"] for w in PANIC_WORDS):
            self.fail("panics", what, error["message"])

    def report(self):
        c = self.counts
        return (f"bad-input sweep: {c['requests']} requests ({c['jsonrpc']} JSON-RPC, {c['grpc']} gRPC), "
                f"{c['crashes']} crashes, {c['hangs']} hangs, {c['state_changes']} state changes, "
                f"{c['malformed']} malformed answers, {c['panics']} handler panics; "
                f"answered with a result: {c['results']} JSON-RPC ("
                + ", ".join(f"{m} {len(w)}" for m, w in sorted(self.accepted.items()))
                + f"), {c['grpc_ok']} gRPC")


def resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def field_cases(doc, schema):
    """(label, params builder) for every field of an input, and one level into
    its objects and arrays of objects; the rest of the input is left default."""
    schema = resolve(doc, schema)
    out = []
    for name, prop in schema.get("properties", {}).items():
        key = json.dumps(name).encode()
        out.append((name, lambda v, k=key: b"{%s:%s}" % (k, v)))
        inner = resolve(doc, prop)
        wrap = lambda v: v  # noqa: E731
        if inner.get("type") == "array" and "items" in inner:
            inner = resolve(doc, inner["items"])
            wrap = lambda v: b"[%s]" % v  # noqa: E731
        for sub, _ in inner.get("properties", {}).items():
            subkey = json.dumps(sub).encode()
            out.append((f"{name}.{sub}", lambda v, k=key, s=subkey, w=wrap: b"{%s:%s}" % (k, w(b"{%s:%s}" % (s, v)))))
    return out


def sweep_jsonrpc(sweep):
    doc = sweep.call("rpc.discover")
    methods = doc["methods"]
    assert len(methods) >= 10, [m["name"] for m in methods]
    for m in methods:
        name = m["name"]
        for params in BAD_PARAMS:
            sweep.rpc(f"{name} params {params[:40]!r}", name, params)
        if not m.get("params"):
            continue
        for label, build in field_cases(doc, m["params"][0]["schema"]):
            for value in BAD_VALUES:
                sweep.rpc(f"{name} {label}={value[:40]!r}", name, b"[%s]" % build(value))
                if "." not in label:
                    sweep.rpc(f"{name} named {label}={value[:40]!r}", name, build(value))
    # Control rpcs without a token are refused before their params are read.
    for m in methods:
        if m.get("x-control"):
            sweep.counts["requests"] += 1
            sweep.counts["jsonrpc"] += 1
            body = {"jsonrpc": "2.0", "id": 1, "method": m["name"], "params": [{}]}
            reply = requests.post(sweep.server.http_url, json=body, timeout=10).json()
            assert reply["error"]["code"] == -32005, reply
            sweep.after(f"{m['name']} without a token")


def sweep_envelope(sweep):
    """Envelope and batch malformations, with the exact code each must get."""
    call = b'{"jsonrpc":"2.0","id":1,"method":"meta_getTip"}'
    cases = [(b'{"jsonrpc":"2.0","id":%s,"method":"meta_getTip"}' % i, -32600)
             for i in (b"{}", b"[]", b"[1]", b"1.5", b"1e2", b"-1", b"18446744073709551616", b"true")]
    cases += [(b'{"jsonrpc":%s,"id":1,"method":"meta_getTip"}' % v, -32600) for v in (b'"3.0"', b'"1.0"', b"2", b"2.0", b"null")]
    cases += [
        (b'{"id":1,"method":"meta_getTip"}', -32600),
        (b'{"jsonrpc":"2.0","id":1}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":null}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"meta_getTip","method":"meta_getTip"}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"meta_getTip","params":5}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"no_such_method"}', -32601),
        (b"[]", -32600), (b"5", -32600), (b'"x"', -32600), (b"null", -32600),
        (b"[" + b",".join([call] * 1001) + b"]", -32004),
        (b"{", -32700), (b"", -32700), (b"   ", -32700), (b"nul", -32700), (b'{"a":}', -32700),
        (call + b"x", -32700), (b"\xef\xbb\xbf" + call, -32700), (call[:-1] + b',"x":"\xff"}', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"meta_getTip","params":[1e400]}', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"meta_getTip","params":[' + b"9" * 400 + b"]}", -32700),
        (b"[" * DEEP + b"]" * DEEP, -32700), (b'{"a":' * DEEP + b"1" + b"}" * DEEP, -32700),
        (b"[" * MB, -32700), (b'{"jsonrpc":"2.0","id":1,"method":"' + b"m" * MB, -32700),
    ]
    for body, code in cases:
        what = f"envelope {body[:50]!r}"
        status, reply, text = sweep.post(what, body)
        if status is None:
            continue
        if isinstance(reply, list):
            reply = reply[0] if len(reply) == 1 else {"batch": reply}
        error = reply.get("error") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(error, dict) or error.get("code") != code:
            sweep.fail("malformed", what, f"expected {code}: HTTP {status} {text[:200]}")
    # Batches: each bad entry gets its error, the good ones are served.
    status, reply, text = sweep.post("batch of scalars", b"[1,2,3]")
    if not (isinstance(reply, list) and [e["error"]["code"] for e in reply] == [-32600] * 3):
        sweep.fail("malformed", "batch of scalars", text[:200])
    mixed = b"[%s,%s,1]" % (call, call.replace(b'"id":1', b'"id":{}'))
    status, reply, text = sweep.post("mixed batch", mixed)
    if not (isinstance(reply, list) and len(reply) == 3 and sum("result" in e for e in reply) == 1):
        sweep.fail("malformed", "mixed batch", text[:200])
    # Notifications get no reply and do nothing, control rpcs included.
    for body in (b'{"jsonrpc":"2.0","method":"meta_getTip"}',
                 b'{"jsonrpc":"2.0","method":"metaConsensusRpc_disconnectBlock","params":[{}]}',
                 b'[{"jsonrpc":"2.0","method":"meta_getTip"},{"jsonrpc":"2.0","method":"meta_getTip"}]'):
        status, _, text = sweep.post(f"notification {body[:40]!r}", body)
        if (status, text) != (204, ""):
            sweep.fail("malformed", "notification", f"HTTP {status} {text[:100]}")
    # What is not a JSON-RPC POST is refused at the HTTP level.
    for what, kwargs, expected in (("GET", dict(method="GET"), 405),
                                   ("text/plain", dict(content_type="text/plain"), 415)):
        status, _, text = sweep.post(what, call, **kwargs)
        if status != expected:
            sweep.fail("malformed", what, f"expected HTTP {expected}, got {status}: {text[:100]}")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sample(msg, depth=0):
    """Fills every field of `msg` with a plausible value, one level deep."""
    for f in msg.DESCRIPTOR.fields:
        repeated = f.is_repeated
        if f.message_type is not None:
            if depth < 2:
                sample(getattr(msg, f.name).add() if repeated else getattr(msg, f.name), depth + 1)
            continue
        value = {f.TYPE_STRING: "x", f.TYPE_BYTES: b"\x01\x02", f.TYPE_BOOL: True,
                 f.TYPE_ENUM: 1}.get(f.type, 1)
        if repeated:
            getattr(msg, f.name).append(value)
        else:
            setattr(msg, f.name, value)
    return msg


def protobuf_cases(descriptor, rng):
    """Bytes that are not the message, or barely are."""
    cls = message_factory.GetMessageClass(descriptor)
    good = sample(cls()).SerializeToString()
    cases = [b"", good, good + b"\x00", b"\x00", b"\xff" * 11, b"\x0a", b"\x0a\xff\xff\xff\xff\x0f",
             b"\x0b" * 10_000, b"\xc0\x3e\x01"]  # groups 10,000 deep; field 1000 (unknown)
    cases += [good[:i] for i in range(1, min(len(good), 40))]
    for _ in range(30):
        flipped = bytearray(good)
        if flipped:
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        cases.append(bytes(flipped))
    for n in (1, 2, 5, 17, 100, 1000, 100_000):
        cases.append(rng.randbytes(n))
    for f in descriptor.fields:
        for wire in range(6):
            cases.append(varint(f.number << 3 | wire) + b"\x05abcde")
        if f.type in (f.TYPE_STRING, f.TYPE_BYTES, f.TYPE_MESSAGE):
            cases.append(varint(f.number << 3 | 2) + varint(1 << 31) + b"x")
            cases.append(varint(f.number << 3 | 2) + b"\x02\xff\xfe")
            cases.append(varint(f.number << 3 | 2) + varint(MB) + b"\xff" * MB)
        else:
            cases.append(varint(f.number << 3) + b"\xff" * 10 + b"\x01")  # a varint past 64 bits
            cases.append(varint(f.number << 3) + b"\xff" * 9 + b"\x01")  # 2^64 - 1
    return cases


def sweep_grpc(sweep):
    channel = grpc.insecure_channel(
        sweep.server.grpc_url.removeprefix("grpc://"),
        options=[("grpc.max_send_message_length", 8 * MB), ("grpc.max_receive_message_length", 8 * MB)])
    db = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(db)
    services = [s for s in db.get_services() if not s.startswith("grpc.reflection")]
    assert services, "reflection lists no service"
    rng = random.Random(1234)
    swept = 0
    for service in services:
        for method in pool.FindServiceByName(service).methods:
            swept += 1
            path = f"/{service}/{method.name}"
            streaming = method.server_streaming
            cases = protobuf_cases(method.input_type, rng)
            if streaming:
                # A stream that opens waits for heads: a few cases, a short deadline.
                cases = cases[:4] + cases[-6:]
            for body in cases:
                what = f"gRPC {method.name} {body[:24]!r}"
                sweep.counts["requests"] += 1
                sweep.counts["grpc"] += 1
                auth = [("authorization", f"Bearer {jwt.token(sweep.server.secret_path)}")]
                try:
                    if streaming:
                        stream = channel.unary_stream(path)(body, timeout=0.3, metadata=auth)
                        next(stream, None)
                        sweep.counts["grpc_ok"] += 1
                    else:
                        channel.unary_unary(path)(body, timeout=10, metadata=auth)
                        sweep.counts["grpc_ok"] += 1
                except grpc.RpcError as e:
                    code, details = e.code(), e.details() or ""
                    if code == grpc.StatusCode.DEADLINE_EXCEEDED and streaming:
                        sweep.counts["grpc_ok"] += 1  # the stream opened and waits for heads
                    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
                        sweep.fail("hangs", what, details)
                    elif code == grpc.StatusCode.UNKNOWN:
                        sweep.fail("malformed", what, details)
                    elif code == grpc.StatusCode.INTERNAL and any(w in details for w in PANIC_WORDS):
                        sweep.fail("panics", what, details)
                    elif code == grpc.StatusCode.UNAVAILABLE:
                        sweep.fail("crashes", what, details)
                sweep.after(what)
    assert swept >= 10, f"reflection lists {swept} methods"
    channel.close()


def test_no_bad_input_crashes_or_misleads_metachaind(metachaind, capsys):
    server = metachaind()
    sweep = Sweep(server)
    start = time.monotonic()
    sweep_envelope(sweep)
    sweep_jsonrpc(sweep)
    sweep_grpc(sweep)
    elapsed = time.monotonic() - start
    with capsys.disabled():
        print(f"\n{sweep.report()} in {elapsed:.1f} s")
    assert server.process.poll() is None
    c = sweep.counts
    assert (c["crashes"], c["hangs"], c["state_changes"], c["malformed"], c["panics"]) == (0, 0, 0, 0, 0), \
        "\n".join(sweep.failures)
    # A good call still works.
    assert sweep.call("meta_getTip") == sweep.state[0]
