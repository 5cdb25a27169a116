"""TestNode: one defid in its own data directory."""
import os
import signal
import subprocess

from .util import wait_until


class TestNode:
    __test__ = False  # not a pytest class
    def __init__(self, binary, datadir, extra_args=()):
        self.binary = binary
        self.datadir = datadir
        self.extra_args = list(extra_args)
        self.process = None

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
        args = [self.binary, "-regtest", f"-datadir={self.datadir}", "-noprinttoconsole"]
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

    def stop(self, timeout=30):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
