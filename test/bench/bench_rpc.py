"""What the benchmarks share: a JSON-RPC client with little client-side overhead (the
same for every server measured), percentiles, hex."""
import http.client
import json
import math
from urllib.parse import urlparse


class RpcError(Exception):
    pass


class Client:
    """JSON-RPC 2.0 over one kept-alive HTTP/1.1 connection (http.client: little
    client-side overhead, the same for both servers)."""

    def __init__(self, url):
        u = urlparse(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/"
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.id = 0
        self.headers = {"Content-Type": "application/json"}

    def call(self, method, *params):
        self.id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": list(params)}).encode()
        self.conn.request("POST", self.path, body, self.headers)
        resp = self.conn.getresponse()
        text = resp.read()
        if resp.status != 200:
            raise RpcError(f"{method}: HTTP {resp.status}: {text[:300]!r}")
        reply = json.loads(text)
        if reply.get("error"):
            raise RpcError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self):
        self.conn.close()


def percentile(sorted_ms, q):
    """Nearest-rank percentile of an ascending list."""
    return sorted_ms[max(0, math.ceil(q / 100 * len(sorted_ms)) - 1)]


def hx(b):
    """0x-hex of bytes (HexBytes.hex() has a 0x prefix or not depending on its version)."""
    return "0x" + bytes(b).hex()
