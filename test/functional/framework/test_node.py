"""TestNode: one defid in its own data directory, with an RPC proxy:
`node.getblockcount()` calls the node's JSON-RPC with its cookie.

Results are parsed exactly: JSON numbers with a fraction or exponent become
Decimal (amounts have 8 decimals, metachain coins 18), integers stay int; a
Decimal parameter is sent as a string of its exact digits."""
import base64
import json
import os
import signal
import socket
import subprocess
from decimal import Decimal

import requests

from .util import wait_until


# Ports handed to nodes come from below the kernel's ephemeral range
# (32768-60999 here): a port the kernel picked for us can be picked again,
# between our check and the node's bind, for another process's outgoing
# connection or `:0` listener. Each test process walks its own stretch of
# 20000-32000 (by pid) and never hands out a port twice.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_next_port = [None]


def free_port():
    span = _PORT_HIGH - _PORT_LOW
    if _next_port[0] is None:
        _next_port[0] = (os.getpid() * 997) % span
    for _ in range(span):
        port = _PORT_LOW + _next_port[0] % span
        _next_port[0] += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_LOW}-{_PORT_HIGH}")


def _default(o):
    if isinstance(o, Decimal):
        return format(o, "f")
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def dumps(body):
    """JSON text of `body`; a Decimal goes as a string of its exact digits, no
    exponent (amount arguments take strings)."""
    return json.dumps(body, default=_default)


def loads(text):
    """A JSON reply with fractional numbers as Decimal (exact)."""
    return json.loads(text, parse_float=Decimal)


class RPCError(Exception):
    def __init__(self, error):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code = error["code"]
        self.message = error["message"]


class TestNode:
    __test__ = False  # not a pytest class
    def __init__(self, binary, datadir, extra_args=()):
        self.binary = binary
        self.datadir = datadir
        self.extra_args = list(extra_args)
        self.process = None
        self.rpcport = free_port()
        self.p2pport = free_port()

    @property
    def chaindir(self):
        return os.path.join(self.datadir, "regtest")

    @property
    def debug_log(self):
        path = os.path.join(self.chaindir, "debug.log")
        return open(path).read() if os.path.exists(path) else ""

    def start(self, extra_args=()):
        os.makedirs(self.datadir, exist_ok=True)
        self.stderr_path = os.path.join(self.datadir, "stderr.log")
        args = [self.binary, "-regtest", f"-datadir={self.datadir}", "-noprinttoconsole", f"-rpcport={self.rpcport}",
                f"-port={self.p2pport}", "-bind=127.0.0.1"]
        with open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(args + self.extra_args + list(extra_args),
                                            stdout=subprocess.DEVNULL, stderr=err)
        return self

    def wait_for_log(self, text, timeout=30):
        def seen():
            if text in self.debug_log:
                return True
            if self.process.poll() is not None:
                raise RuntimeError(f"defid exited with {self.process.returncode} before logging "
                                   f"{text!r}:\n{self.debug_log}\n{self.stderr}")
            return False
        wait_until(seen, timeout=timeout, what=f"{text!r} in debug.log")

    def wait_for_exit(self, timeout=30):
        self.process.wait(timeout=timeout)
        return self.process.returncode

    @property
    def stderr(self):
        return open(self.stderr_path).read() if os.path.exists(self.stderr_path) else ""

    def stop_process(self, timeout=30):
        """SIGTERM, then the exit code."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # RPC

    def cli(self, *args, wait=True):
        """Runs defi-cli against this node: the CompletedProcess, or the Popen
        when `wait` is false."""
        from conftest import ROOT
        argv = [os.path.join(ROOT, "build", "defi-cli"), "-regtest", f"-datadir={self.datadir}",
                f"-rpcport={self.rpcport}", *args]
        if not wait:
            return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.rpcport}/"

    def auth(self):
        return open(os.path.join(self.chaindir, ".cookie")).read().strip()

    def post(self, body, auth=None, raw=False):
        """Posts `body` (an object or raw text); returns the HTTP response."""
        user_pass = auth if auth is not None else self.auth()
        headers = {"Authorization": "Basic " + base64.b64encode(user_pass.encode()).decode(),
                   "Content-Type": "application/json"}
        data = body if raw else dumps(body)
        return requests.post(self.url, data=data, headers=headers, timeout=60)

    def rpc(self, method, *params):
        reply = loads(self.post({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}).text)
        if reply.get("error"):
            raise RPCError(reply["error"])
        return reply["result"]

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *params: self.rpc(method, *params)

    def wait_for_rpc(self, timeout=30):
        def up():
            if self.process.poll() is not None:
                raise RuntimeError(f"defid exited with {self.process.returncode}:\n{self.stderr}")
            try:
                self.rpc("getblockcount")
                return True
            except Exception:
                return False
        wait_until(up, timeout=timeout, what="defid RPC")
        return self


def connect_nodes(a, b, timeout=30):
    """`a` opens a connection to `b` (addnode onetry) and both finish the
    handshake: returns a's peer id for b."""
    target = f"127.0.0.1:{b.p2pport}"
    inbound_before = {p["id"] for p in b.getpeerinfo() if p["inbound"]}
    a.addnode(target, "onetry")

    def done():
        mine = [p for p in a.getpeerinfo() if p["addr"] == target and p["version"] and "pingtime" in p]
        theirs = [p for p in b.getpeerinfo() if p["inbound"] and p["id"] not in inbound_before and p["version"]]
        # A tuple, so peer id 0 still counts as done.
        return (mine[0]["id"],) if mine and theirs else None
    return wait_until(done, timeout=timeout, what=f"a connection to {target}")[0]
