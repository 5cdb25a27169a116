"""A bad-input sweep over every RPC, generated from the declarations the node
publishes (`getrpcschema`), so a new RPC is covered without a new test.

For every method but `stop`, and every argument: wrong types, numbers at and
past the bounds (sent as raw JSON text, so nothing reformats them), bad
amounts, long strings, NUL and invalid UTF-8, deep nesting, too many and too
few arguments, unknown and mistyped named arguments. The other arguments of
the call get valid samples, so the bad one is what is checked, and no in-range
value that would do real work is ever sent. Then the envelope and batch
malformations, and HTTP auth.

Each request must leave the process alive, get a well-formed JSON-RPC answer
(a result, or an error with an integer code and a string message) and, when
refused, change nothing: the chain tip and height, the mempool, the wallet's
and the test addresses' balances and the metachain are compared before and
after each method's values (and request by request when something changed).

A refusal of a bad argument must name that argument in its message (bad
JSON, -32700, names nothing), and no bad input may reach a handler's
internal error (-32603)."""
import base64
import json
import re
import time
from decimal import Decimal, InvalidOperation

import pytest
import requests

from conftest import MODES
from framework.messages import NativeKey
from framework.metachaind import Metachaind
from framework.test_node import RPCError, TestNode

TYPES = {"string", "int", "amount", "bool", "hash", "hex", "address", "metaaddress", "blockid"}
MAX_MONEY = Decimal(1_200_000_000)
TIMEOUT = 10  # seconds a single request may take before it counts as a hang
SWEEP_BUDGET = 60  # seconds per mode
MAX_RESTARTS = 3
BIG = 100_000  # bytes of a long string
DEPTH = 40_000
ENVELOPE_BATCH = 20_000  # entries in the over-the-cap batch (a cap of ~1,000 is expected)


# The node: one per mode for the whole module.


class Target:
    """A defid in `mode` with a funded wallet address and meta address,
    restarted (and counted) if it dies."""

    def __init__(self, mode, defid_bin, metachaind_bin, tmp):
        self.mode = mode
        self.server = None
        args = ["-meta"]
        if mode != "ffi":
            self.server = Metachaind(metachaind_bin, str(tmp / "metachaind")).start()
            args = self.server.defid_args(mode)
        self.node = TestNode(defid_bin, str(tmp / "node"), args).start().wait_for_rpc()
        self.session = requests.Session()
        self.restarts = 0
        n = self.node
        self.addr, self.meta = n.getnewaddress(), n.getnewmetaaddress()
        n.generatetoaddress(2, self.addr)
        n.deposittometachain(self.addr, self.meta, 10)
        n.generatetoaddress(1, self.addr)
        self.tip = n.getbestblockhash()
        self.stranger = NativeKey(0xBAD1).address

    def headers(self, auth=None):
        user_pass = self.node.auth() if auth is None else auth
        return {"Authorization": "Basic " + base64.b64encode(user_pass.encode()).decode(),
                "Content-Type": "application/json"}

    def send(self, body, headers=None, timeout=TIMEOUT):
        """Posts raw bytes; returns the response, or "hang" / "crash"."""
        if isinstance(body, str):
            body = body.encode()
        try:
            return self.session.post(self.node.url, data=body, headers=headers or self.headers(), timeout=timeout)
        except requests.Timeout:
            return "crash" if not self.alive() else "hang"
        except requests.ConnectionError:
            if not self.alive():
                return "crash"
            raise

    def alive(self):
        return self.node.process.poll() is None

    def revive(self):
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise RuntimeError(f"defid died {self.restarts} times; stopping the sweep")
        self.node.kill()
        self.session = requests.Session()
        self.node.start().wait_for_rpc()

    def snapshot(self):
        """One batch of read-only calls: everything a refused call must leave alone."""
        calls = [("getbestblockhash",), ("getblockcount",), ("getrawmempool",), ("getbalance",),
                 ("getmetachaininfo",), ("getmetabalance", self.meta), ("getaddressbalance", self.addr),
                 ("getaddressbalance", self.stranger), ("getblockchaininfo",)]
        body = [{"jsonrpc": "2.0", "id": i, "method": c[0], "params": list(c[1:])} for i, c in enumerate(calls)]
        replies = self.session.post(self.node.url, data=json.dumps(body), headers=self.headers(),
                                    timeout=30).json()
        out = {}
        for r in replies:
            value = r.get("result") if r.get("error") is None else ("error", r["error"].get("code"))
            if calls[r["id"]][0] == "getrawmempool" and isinstance(value, list):
                value = sorted(value)
            out[" ".join(map(str, calls[r["id"]]))] = value
        return out

    def stop(self):
        self.node.kill()
        if self.server:
            self.server.stop()


@pytest.fixture(scope="module", params=MODES)
def target(request, defid_bin, metachaind_bin, tmp_path_factory):
    t = Target(request.param, defid_bin, metachaind_bin, tmp_path_factory.mktemp(f"bad_{request.param}"))
    yield t
    t.stop()


# The declarations.


def load_schema(node):
    return node.getrpcschema()["methods"]


def help_methods(node):
    return sorted(line.split()[0] for line in node.help().splitlines() if line and not line.startswith("=="))


def test_rpc_schema(target):
    """getrpcschema declares every method `help` lists, with typed arguments."""
    node = target.node
    try:
        methods = node.getrpcschema()["methods"]
    except RPCError as e:
        pytest.fail(f"getrpcschema: {e}")
    assert sorted(m["name"] for m in methods) == help_methods(node)
    for m in methods:
        assert isinstance(m["category"], str) and m["category"], m
        help_args = re.findall(r"^\d+\. (\S+) \(", node.help(m["name"]), re.M)
        assert [a["name"] for a in m["args"]] == help_args, m
        seen_optional = False
        for a in m["args"]:
            assert a["type"] in TYPES and isinstance(a["required"], bool), (m["name"], a)
            assert not (a["required"] and seen_optional), f"{m['name']}: required after optional"
            seen_optional |= not a["required"]
            if a["type"] == "int":
                assert isinstance(a["min"], int) and isinstance(a["max"], int) and a["min"] <= a["max"], a
            if a["type"] == "hex":
                assert isinstance(a["maxlength"], int) and a["maxlength"] > 0, a


# Values.

NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
AMOUNT_TEXT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def raw(text):
    """A JSON value given as its exact text."""
    return text.encode() if isinstance(text, str) else text


def jstr(s):
    return json.dumps(s).encode()


NUMBERS = ["-1", "0", "1.5", "1e-8", "1e-9", "0.000000001", "2147483647", "2147483648", "-2147483649",
           "4294967296", "9007199254740993", "9223372036854775807", "9223372036854775808",
           "-9223372036854775809", "18446744073709551616", "1e400", "-1e400", "1e3", "1E+2", "2e9", "1e-400",
           "-0", "0.0", "1.000000001", "1200000000.00000001", "1200000001", "-0.00000001",
           "123456789012345678901234567890"]
STRINGS = {"empty": "", "abc": "abc", "long": "x" * BIG, "nul": "a\u0000b", "space": " 1", "exp": "1e3",
           "inf": "Infinity", "nan": "NaN", "hex0x": "0x10", "negative": "-1", "9 decimals": "1.000000001",
           "over max": "1200000001", "hex63": "a" * 63, "hex65": "a" * 65, "nonhex64": "z" * 64,
           "hexodd": "abc", "leading zero": "01", "plus": "+1", "height overflow": "99999999999999999999"}
OTHERS = {"true": b"true", "false": b"false", "null": b"null", "array": b"[]", "object": b"{}", "[1]": b"[1]",
          "{a:1}": b'{"a":1}', "invalid utf-8": b'"\xff\xfe"', "overlong utf-8": b'"\xc0\x80"',
          "deep": b"[" * DEPTH + b"]" * DEPTH}


def number_value(text):
    """The exact value of a JSON number text, or None."""
    if not NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def is_amount(v):
    """In the amount domain: [0, MAX_MONEY], at most 8 decimals."""
    if v is None or not -MAX_MONEY * 10 <= v <= MAX_MONEY * 10:
        return False
    return 0 <= v <= MAX_MONEY and v == v.quantize(Decimal("1e-8"))


def integral(v):
    return v is not None and abs(v) < Decimal("1e40") and v == v.to_integral_value()


def number_case(t, text, lo, hi):
    """None to skip the number `text` for type `t` (in the domain, or may do
    work), else whether it must be refused."""
    v = number_value(text)
    if t == "int":
        if not integral(v):
            return True
        return None if lo <= v <= hi else True
    if t == "amount":
        return None if is_amount(v) or text == "-0" else True
    if t == "blockid":
        if not integral(v) or v < 0 or v > 2**64:
            return True
        # A height, found or not: a lookup. Spelled 1e3 or past int32: only answered.
        return None if v <= 2**31 - 1 and NUMBER.fullmatch(text).group(2) is None \
            and NUMBER.fullmatch(text).group(3) is None else False
    return True


def string_case(t, label, s, maxlen):
    """As number_case, for the string `s`."""
    if t == "string":
        return maxlen is not None and len(s.encode()) > maxlen
    if t == "amount":
        # Leading zeros and exponents in a string: arguably valid; not sent when in range.
        v = Decimal(s) if AMOUNT_TEXT.fullmatch(s) else None
        return None if is_amount(v) else True
    if t == "hash":
        return None if HEX64.fullmatch(s) else True
    if t == "hex":
        if re.fullmatch(r"(?:[0-9a-fA-F]{2})*", s):
            if not s:
                return False  # no bytes: arguably valid hex
            return None if maxlen is None or len(s) // 2 <= maxlen else True
        return True
    if t == "blockid":
        if re.fullmatch(r"0|[1-9][0-9]*", s) and int(s) <= 2**31 - 1:
            return None
        if re.fullmatch(r"0|[1-9][0-9]*", s) and int(s) < 2**63:
            return False
        return True
    return True


def bad_values(arg, ctx):
    """(label, raw JSON, must_fail) for one argument: values outside its
    declared domain (must be refused), plus odd values it may hold (must only
    be answered). In-domain values are never sent."""
    t, lo, hi, maxlen = arg["type"], arg.get("min"), arg.get("max"), arg.get("maxlength")
    out = []
    numbers = list(NUMBERS)
    if t == "int":
        numbers += [str(lo - 1), str(hi + 1)]
    for text in numbers:
        must = number_case(t, text, lo, hi)
        if must is not None:
            out.append((f"number {text}", raw(text), must))
    for label, s in STRINGS.items():
        must = string_case(t, label, s, maxlen)
        if must is not None:
            out.append((f"string {label}", jstr(s), must))
    for label, text in OTHERS.items():
        if label in ("true", "false") and t == "bool":
            continue
        if label == "null" and not arg["required"]:
            continue  # null is "absent" for an optional argument
        out.append((label, text, True))
    if t == "address":
        out += [("meta address", jstr(ctx.meta), True), ("bad checksum", jstr(flip_last(ctx.addr)), True),
                ("padded", jstr(" " + ctx.addr), True), ("truncated", jstr(ctx.addr[:-1]), True),
                ("other network", jstr("df1" + ctx.addr[5:]), True)]
    if t == "metaaddress":
        # ctx.meta is EIP-55: with every letter's case swapped its checksum is wrong.
        out += [("native address", jstr(ctx.addr), True), ("bad checksum", jstr(bad_checksum(ctx.meta)), True),
                ("padded", jstr(ctx.meta + " "), True), ("no 0x and padded", jstr(" " + ctx.meta[2:]), True),
                ("too short", jstr(ctx.meta[:-1]), True), ("too long", jstr(ctx.meta + "0"), True),
                ("not hex", jstr("0x" + "g" * 40), True), ("0X prefix, bad checksum", jstr("0X" + bad_checksum(ctx.meta)[2:]), True),
                ("bech32 meta address", jstr("dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"), True)]
    if t == "hex" and maxlen is not None and maxlen * 2 + 2 < 3_000_000:
        out.append((f"hex over {maxlen} bytes", jstr("00" * (maxlen + 1)), True))
    return out


def bad_checksum(meta):
    """A mixed-case spelling of the 0x address `meta` whose EIP-55 checksum is wrong."""
    from eth_utils import is_checksum_address
    low = meta.lower()
    letters = [i for i, c in enumerate(low) if i >= 2 and c in "abcdef"]
    for i in letters:
        for j in letters:
            if i != j:
                s = low[:i] + low[i].upper() + low[i + 1:]
                s = s[:j] + s[j].upper() + s[j + 1:]
                if not is_checksum_address(s):
                    return s
    return "0x" + "aB" * 20  # an address without letters has no wrong case: any bad mixed one


def flip_last(addr):
    return addr[:-1] + ("q" if addr[-1] != "q" else "p")


def sample(arg, ctx):
    """A valid value (raw JSON) for an argument that is not the one under test."""
    t = arg["type"]
    if t == "int":
        return str(arg.get("min", 0)).encode()
    if t == "bool":
        return b"false"
    return jstr({"string": "getblockcount" if arg["name"] == "command" else "x", "amount": "1",
                 "hash": ctx.tip, "hex": "00", "address": ctx.addr, "metaaddress": ctx.meta,
                 "blockid": "0"}[t])


def request_body(method, params, rid=1):
    """A 2.0 request whose params are raw JSON texts (a list, or a dict of name -> text)."""
    if isinstance(params, dict):
        p = b"{" + b",".join(jstr(k) + b":" + v for k, v in params.items()) + b"}"
    elif isinstance(params, list):
        p = b"[" + b",".join(params) + b"]"
    else:
        p = params
    return b'{"jsonrpc":"2.0","id":' + str(rid).encode() + b',"method":' + jstr(method) + b',"params":' + p + b"}"


def cases(method, ctx):
    """(label, body, must_fail, text a refusal must contain) for one method."""
    args = method["args"]
    name = method["name"]
    required = [a for a in args if a["required"]]
    out = []
    for i, arg in enumerate(args):
        # Positional: the args before it (and the required ones after) get samples.
        upto = max(i + 1, len(required))
        for label, text, must in bad_values(arg, ctx):
            params = [sample(a, ctx) for a in args[:upto]]
            params[i] = text
            out.append((f"{arg['name']}={label}", request_body(name, params), must, arg["name"]))
        # Named, with the wrong type.
        wrong = b"true" if arg["type"] != "bool" else b"1"
        named = {a["name"]: sample(a, ctx) for a in required}
        named[arg["name"]] = wrong
        out.append((f"named {arg['name']}=wrong type", request_body(name, named), True, arg["name"]))
    full = [sample(a, ctx) for a in args]
    out.append(("too many args", request_body(name, full + [b"1"]), True, None))
    if required:
        out.append(("too few args", request_body(name, [sample(a, ctx) for a in required[:-1]]), True,
                    required[-1]["name"]))
    named = {a["name"]: sample(a, ctx) for a in required}
    named["nosuchparam"] = b"1"
    out.append(("named unknown", request_body(name, named), True, "nosuchparam"))
    for label, p in (("params number", b"1"), ("params string", b'"x"'), ("params true", b"true")):
        out.append((label, request_body(name, p), True, None))
    return out


def check_reply(resp, rid=1):
    """Why `resp` is not a well-formed single JSON-RPC 2.0 answer, or None;
    and whether it is an error."""
    try:
        reply = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}, not JSON: {resp.content[:120]!r}", None
    return check_object(reply), isinstance(reply, dict) and reply.get("error") is not None


def check_object(reply):
    if not isinstance(reply, dict):
        return f"not an object: {str(reply)[:120]}"
    err = reply.get("error")
    if err is not None:
        if not isinstance(err, dict) or type(err.get("code")) is not int or not isinstance(err.get("message"), str):
            return f"malformed error: {str(err)[:200]}"
        if reply.get("result") is not None:
            return "both result and error"
    elif "result" not in reply:
        return f"neither result nor error: {str(reply)[:200]}"
    if "id" not in reply:
        return "no id"
    return None


class Tally:
    def __init__(self):
        self.requests = self.crashes = self.hangs = self.state_changes = 0
        self.accepted = self.malformed = self.unclear = 0
        self.problems = []

    def problem(self, kind, what):
        self.problems.append(f"{kind}: {what}")

    def report(self, mode, seconds, schema_source):
        return (f"[{mode}] {self.requests} requests in {seconds:.1f}s ({schema_source}): {self.crashes} crashes, "
                f"{self.hangs} hangs, {self.state_changes} state changes, {self.accepted} bad values accepted, "
                f"{self.malformed} malformed answers, {self.unclear} unclear or internal errors")


def run_one(target, tally, what, body, must_fail, names=None):
    tally.requests += 1
    resp = target.send(body)
    if resp == "crash":
        tally.crashes += 1
        tally.problem("crash", f"{what}\n{target.node.stderr[-2000:]}")
        target.revive()
        return
    if resp == "hang":
        tally.hangs += 1
        tally.problem("hang", what)
        return
    if not target.alive():
        tally.crashes += 1
        tally.problem("crash", what)
        target.revive()
        return
    why, is_error = check_reply(resp)
    if why:
        tally.malformed += 1
        tally.problem("malformed", f"{what}: {why}")
    elif must_fail and not is_error:
        tally.accepted += 1
        tally.problem("accepted", f"{what}: {resp.text[:200]}")
    elif is_error:
        err = resp.json()["error"]
        if err["code"] == -32603:
            tally.unclear += 1
            tally.problem("internal error", f"{what}: {err['message'][:200]}")
        elif must_fail and names and err["code"] != -32700 and names not in err["message"]:
            tally.unclear += 1
            tally.problem("unclear error", f"{what}: {err['code']} {err['message'][:200]!r} does not name {names}")


def test_bad_input_sweep(target):
    node = target.node
    methods = load_schema(node)
    source = "getrpcschema"
    tally = Tally()
    started = time.monotonic()
    for method in methods:
        if method["name"] == "stop":
            continue
        if time.monotonic() - started > SWEEP_BUDGET:
            tally.problem("budget", f"sweep stopped at {method['name']}: over {SWEEP_BUDGET}s")
            break
        todo = cases(method, target)
        before = target.snapshot()
        for what, body, must, names in todo:
            run_one(target, tally, f"{method['name']} {what}", body, must, names)
        if target.snapshot() == before:
            continue
        # Something changed: find which requests do it, one at a time.
        for what, body, must, _ in todo:
            one_before = target.snapshot()
            run_one(target, Tally(), what, body, must)
            after = target.snapshot()
            if after != one_before:
                tally.state_changes += 1
                diff = {k: (one_before[k], after[k]) for k in after if after[k] != one_before.get(k)}
                tally.problem("state change", f"{method['name']} {what}: {str(diff)[:300]}")
    seconds = time.monotonic() - started
    print(tally.report(target.mode, seconds, source))
    for p in tally.problems[:40]:
        print("  " + p.replace("\n", "\n    "))
    assert target.alive()
    assert not tally.problems, tally.report(target.mode, seconds, source) + "\n" + \
        "\n".join(p[:400] for p in tally.problems[:25])
    assert seconds < SWEEP_BUDGET + 10


# The envelope, batches and auth.


def test_envelope_batches_and_auth(target):
    tally = Tally()
    before = target.snapshot()
    count = target.node.getblockcount()

    def post(body, headers=None):
        tally.requests += 1
        resp = target.send(body, headers=headers)
        assert resp not in ("crash", "hang"), (resp, body[:200])
        assert target.alive()
        return resp

    def error_code(body):
        resp = post(body)
        why, is_error = check_reply(resp)
        assert why is None and is_error, (body[:200], why, resp.text[:300])
        return resp.json()["error"]["code"]

    # Not JSON, or JSON that is not a number a double can hold.
    for body in (b"", b"{", b"[", b'{"method":', b"nul", b"\xff\xfe", b'"\xff"', b"{}}",
                 b'{"jsonrpc":"2.0","id":1,"method":"getblockcount"} x', b"[" * DEPTH + b"]" * DEPTH,
                 b'{"jsonrpc":"2.0","id":1e400,"method":"getblockcount"}'):
        assert error_code(body) in (-32700, -32600), body[:60]
    # Envelope fields of the wrong kind.
    for jsonrpc in (b"2", b"null", b"true", b'["2.0"]', b'"3.0"', b'"2.00"', b"{}"):
        body = b'{"jsonrpc":' + jsonrpc + b',"id":1,"method":"getblockcount"}'
        assert error_code(body) == -32600, jsonrpc
    for rid in (b"{}", b"[]", b"[1]", b"true"):
        assert error_code(b'{"jsonrpc":"2.0","id":' + rid + b',"method":"getblockcount"}') == -32600, rid
    for body in (b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"2.0","id":1,"method":1}',
                 b'{"jsonrpc":"2.0","id":1,"method":null}', b"1", b'"getblockcount"', b"null", b"true"):
        assert error_code(body) == -32600, body
    assert error_code(b'{"jsonrpc":"2.0","id":1,"method":"nosuchmethod"}') == -32601
    # Notifications (2.0 without an id) get no answer body, good or bad.
    for body in (b'{"jsonrpc":"2.0","method":"getblockcount"}', b'{"jsonrpc":"2.0","method":"nosuchmethod"}',
                 b'{"jsonrpc":"2.0","method":"getblock","params":[1]}',
                 b'[{"jsonrpc":"2.0","method":"getblockcount"},{"jsonrpc":"2.0","method":"uptime"}]'):
        resp = post(body)
        assert resp.status_code in (200, 204) and resp.content == b"", (body, resp.status_code, resp.text[:200])
    # An empty batch: one error object, not an array.
    resp = post(b"[]")
    reply = resp.json()
    assert isinstance(reply, dict) and check_object(reply) is None and reply["error"]["code"] == -32600, reply
    # A batch over the cap: one error, not thousands of answers.
    big = b"[" + b",".join([b'{"id":1,"method":"uptime"}'] * ENVELOPE_BATCH) + b"]"
    resp = post(big)
    assert resp.status_code in (200, 400, 413), resp.status_code
    if resp.status_code != 413:
        reply = resp.json()
        assert isinstance(reply, dict) and check_object(reply) is None and reply["error"]["code"] == -32600, \
            str(reply)[:300]
    # A mixed batch: answers in order, each for its own entry.
    batch = [b'{"jsonrpc":"2.0","id":1,"method":"getblockcount"}',
             b'{"jsonrpc":"2.0","id":2,"method":"nosuchmethod"}',
             b"5",
             b'{"jsonrpc":"2.0","id":4,"method":"getblock","params":[123]}',
             b'{"jsonrpc":"2.0","method":"getblockcount"}',
             b'{"jsonrpc":"3.0","id":6,"method":"getblockcount"}',
             b'{"id":7,"method":"getbestblockhash"}',
             b'{"jsonrpc":"2.0","id":8,"method":"getblockhash","params":[1e400]}']
    resp = post(b"[" + b",".join(batch[:-1]) + b"]")
    replies = resp.json()
    assert isinstance(replies, list) and len(replies) == 6, replies
    assert all(check_object(r) is None for r in replies), replies
    assert replies[0]["result"] == count and replies[0]["id"] == 1
    assert replies[1]["error"]["code"] == -32601 and replies[1]["id"] == 2
    assert replies[2]["error"]["code"] == -32600
    assert replies[3]["error"] is not None and replies[3]["id"] == 4
    assert replies[4]["error"]["code"] == -32600
    assert replies[5]["result"] == target.node.getbestblockhash() and replies[5]["id"] == 7
    # A number that overflows anywhere in a batch spoils the whole body.
    assert error_code(b"[" + b",".join(batch) + b"]") == -32700
    # A body over the limit.
    resp = post(b'{"id":1,"method":"help","params":["' + b"x" * (5 << 20) + b'"]}')
    assert resp.status_code == 413, resp.status_code
    # Auth: only the exact credentials.
    cookie = target.node.auth()
    good = base64.b64encode(cookie.encode()).decode()
    body = b'{"jsonrpc":"2.0","id":1,"method":"getblockcount"}'
    assert post(body).status_code == 200
    for header in ("Basic " + good + "==QUJD", "Basic " + good + "QUJD", "Basic " + good[:-4],
                   "Basic " + base64.b64encode((cookie + "x").encode()).decode(), "Basic ", "Bearer " + good,
                   "Basic " + good.rstrip("=") + "=" * 4, "Basic " + good + "=", "Basic " + "=" + good):
        resp = post(body, headers={"Authorization": header, "Content-Type": "application/json"})
        assert resp.status_code == 401, (header, resp.status_code, resp.text[:200])
    resp = target.session.post(target.node.url, data=body, timeout=TIMEOUT)
    tally.requests += 1
    assert resp.status_code == 401
    assert target.alive()
    assert target.snapshot() == before
    print(f"[{target.mode}] envelope: {tally.requests} requests")
