"""A real metachaind on free loopback ports."""
import os
import signal
import subprocess

import requests

from .util import wait_until


class Metachaind:
    def __init__(self, binary, datadir):
        self.binary = binary
        self.datadir = datadir
        self.process = None
        self.grpc_url = None
        self.http_url = None

    def start(self):
        os.makedirs(self.datadir, exist_ok=True)
        self.stdout_path = os.path.join(self.datadir, "stdout.log")
        self.stderr_path = os.path.join(self.datadir, "stderr.log")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "a") as err:
            self.process = subprocess.Popen(
                [self.binary, "--datadir", os.path.join(self.datadir, "data"),
                 "--grpc-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0"],
                stdout=out, stderr=err)

        def listening():
            if self.process.poll() is not None:
                raise RuntimeError(f"metachaind exited with {self.process.returncode}: "
                                   + open(self.stderr_path).read())
            words = open(self.stdout_path).read().split()
            return words[1:3] if words[:1] == ["listening"] and len(words) >= 3 else None

        self.grpc_url, self.http_url = wait_until(listening, what="metachaind to listen")
        self.ws_url = self.http_url.replace("http://", "ws://")
        return self

    @property
    def secret_path(self):
        """The JWT secret metachaind generated for its control rpcs."""
        return os.path.join(self.datadir, "data", "jwt.hex")

    def url(self, mode):
        return self.grpc_url if mode == "grpc" else self.http_url

    def defid_args(self, mode):
        """The defid options that use this server in `mode` (grpc or jsonrpc)."""
        return [f"-meta_rpc={self.url(mode)}", f"-meta_rpc_secret={self.secret_path}"]

    def call(self, method, params=None):
        """One JSON-RPC call; returns the result or raises with the error."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        reply = requests.post(self.http_url, json=body, timeout=10).json()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    def kill(self):
        return self.stop(signal.SIGKILL)
