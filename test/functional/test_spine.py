"""The spine: defid links and calls the metachain in every mode, reports its
version, refuses bad wiring, and fails fast when the metachain goes away."""
import signal
import socket

import pytest

from conftest import MODES
from framework.test_node import TestNode


def test_version_reports_the_metachain_library(run_defid, metachaind):
    out = run_defid("-version")
    assert out.returncode == 0, out.stderr
    assert "defid version" in out.stdout
    line = next(l for l in out.stdout.splitlines() if l.startswith("metachain library version"))
    server = metachaind()
    assert line.split()[-1] == server.call("meta_getVersion")["version"]


def test_help_lists_every_option(run_defid):
    out = run_defid("-help")
    assert out.returncode == 0
    for opt in ["-datadir=<dir>", "-regtest", "-meta=<args>", "-meta_rpc=<url>", "-meta_rpc_timeout=<seconds>",
                "-version"]:
        assert opt in out.stdout


@pytest.mark.parametrize("mode", MODES)
def test_node_opens_metachain_and_stops_cleanly(node_in_mode, mode):
    node, _ = node_in_mode(mode)
    node.wait_for_log(f"metachain ({mode}) version")
    node.wait_for_log("tip height 0")
    assert node.stop_process() == 0
    assert "shutdown complete" in node.debug_log


def test_ffi_metachain_lives_under_the_node_datadir(node_in_mode):
    node, _ = node_in_mode("ffi")
    node.wait_for_log("defid started")
    import os
    assert os.path.exists(os.path.join(node.chaindir, "metachain", "metachain.redb"))
    assert node.stop_process() == 0


def test_meta_and_meta_rpc_together_is_an_error(run_defid, tmp_path):
    out = run_defid("-regtest", f"-datadir={tmp_path}", "-meta", "-meta_rpc=grpc://127.0.0.1:1")
    assert out.returncode != 0
    assert "exclude each other" in out.stderr


def test_unknown_option_is_an_error(run_defid):
    out = run_defid("-bogus")
    assert out.returncode != 0
    assert "unknown option -bogus" in out.stderr


@pytest.mark.parametrize("url", ["grpc://127.0.0.1:1", "http://127.0.0.1:1", "ftp://127.0.0.1:1"])
def test_unreachable_metachain_exits_non_zero_with_the_cause(run_defid, tmp_path, url):
    out = run_defid("-regtest", f"-datadir={tmp_path}", "-noprinttoconsole", f"-meta_rpc={url}")
    assert out.returncode != 0
    assert "metachain unavailable" in out.stderr
    assert "127.0.0.1:1" in out.stderr


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_a_hung_metachaind_makes_the_node_exit_at_meta_rpc_timeout(run_defid, tmp_path, scheme):
    # A listening socket nobody reads: connections are taken, never answered.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        url = f"{scheme}://127.0.0.1:{hung.getsockname()[1]}"
        out = run_defid("-regtest", f"-datadir={tmp_path}", "-noprinttoconsole", f"-meta_rpc={url}",
                        "-meta_rpc_timeout=1")
    assert out.returncode == 1, out.stderr
    assert f"metachain unavailable: {url}: meta_getTip timed out after 1s" in out.stderr


@pytest.mark.parametrize("mode", ["grpc", "jsonrpc"])
def test_node_exits_when_metachaind_hangs(defid_bin, metachaind, tmp_path, mode):
    server = metachaind()
    node = TestNode(defid_bin, str(tmp_path / "node"), server.defid_args(mode) + ["-meta_rpc_timeout=1"]).start()
    try:
        node.wait_for_log("defid started")
        server.process.send_signal(signal.SIGSTOP)
        code = node.wait_for_exit(timeout=30)
    finally:
        server.process.send_signal(signal.SIGCONT)
        node.kill()
    assert code != 0
    assert "timed out after 1s" in node.stderr and server.url(mode) in node.stderr, node.stderr


@pytest.mark.parametrize("args,error", [
    (["-meta_rpc=http://127.0.0.1:1", "-meta_rpc_timeout=0"], "-meta_rpc_timeout=0 is not a whole number"),
    (["-meta_rpc=http://127.0.0.1:1", "-meta_rpc_timeout=2s"], "-meta_rpc_timeout=2s is not a whole number"),
    (["-meta_rpc=http://127.0.0.1:1", "-meta_rpc_timeout=86401"], "from 1 to 86400"),
    (["-meta", "-meta_rpc_timeout=5"], "-meta_rpc_timeout needs -meta_rpc"),
])
def test_bad_meta_rpc_timeout_is_an_error_before_anything_starts(run_defid, tmp_path, args, error):
    out = run_defid("-regtest", f"-datadir={tmp_path}", *args)
    assert out.returncode == 1 and error in out.stderr, out.stderr
    assert not (tmp_path / "regtest").exists()


def test_bad_meta_args_exit_non_zero(run_defid, tmp_path):
    out = run_defid("-regtest", f"-datadir={tmp_path}", "-noprinttoconsole", "-meta=--bogus=1")
    assert out.returncode != 0
    assert "unknown -meta argument" in out.stderr


@pytest.mark.parametrize("mode", ["grpc", "jsonrpc"])
def test_node_exits_when_metachaind_goes_away(node_in_mode, mode):
    node, server = node_in_mode(mode)
    node.wait_for_log("defid started")
    server.kill()
    code = node.wait_for_exit(timeout=10)
    assert code != 0
    assert "metachain unreachable" in node.stderr
