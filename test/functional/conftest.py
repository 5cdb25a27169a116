"""Fixtures: the built binaries, and nodes wired to a metachain in each mode."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))

from framework.metachaind import Metachaind  # noqa: E402
from framework.test_node import TestNode  # noqa: E402

MODES = ["ffi", "grpc", "jsonrpc"]


def _binary(env, default):
    path = os.environ.get(env, os.path.join(ROOT, default))
    if not os.path.exists(path):
        pytest.exit(f"{path} not found: run ./make.sh build first", returncode=1)
    return path


@pytest.fixture(scope="session")
def defid_bin():
    return _binary("DEFID", "build/defid")


@pytest.fixture(scope="session")
def metachaind_bin():
    return _binary("METACHAIND", "target/release/metachaind")


@pytest.fixture
def run_defid(defid_bin):
    """Runs defid to completion with the given args; returns the CompletedProcess."""
    def run(*args, timeout=30):
        return subprocess.run([defid_bin, *args], capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture
def metachaind(metachaind_bin, tmp_path):
    """A started metachaind, stopped at teardown."""
    daemons = []

    def start():
        d = Metachaind(metachaind_bin, str(tmp_path / f"metachaind{len(daemons)}")).start()
        daemons.append(d)
        return d
    yield start
    for d in daemons:
        d.stop()


@pytest.fixture
def node_in_mode(defid_bin, metachaind, tmp_path):
    """Starts a defid wired to a metachain in `mode`: returns (node, metachaind or None)."""
    nodes = []

    def start(mode, index=0):
        server = None
        if mode == "ffi":
            args = ["-meta"]
        else:
            server = metachaind()
            args = server.defid_args(mode)
        node = TestNode(defid_bin, str(tmp_path / f"node{index}"), args).start()
        nodes.append(node)
        return node, server
    yield start
    for n in nodes:
        n.kill()
