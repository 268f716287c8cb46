"""`ftlab serve` in a separate process, for notebooks and tests: started, used over HTTP, stopped."""

from __future__ import annotations

import atexit
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftlab.serving.classifier import check_model_folder


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class BackgroundServer:
    """`ftlab serve` in a separate process, for notebooks and tests: started, used over HTTP, stopped.

    Use it as a context manager (`with BackgroundServer(folder) as server: ...`) or call `stop()`; the process is
    stopped either way, so no server is left behind.
    """

    def __init__(self, model_dir: str | Path, *, port: int | None = None, host: str = "127.0.0.1",
                 runtime: str | None = None, int8: bool = False, precision: str = "auto",
                 startup_timeout: float = 120.0,
                 extra_args: tuple[str, ...] = ()):
        import httpx

        self.path = check_model_folder(model_dir)
        self.host, self.port = host, port or free_port(host)
        self.url = f"http://{self.host}:{self.port}"
        command = [sys.executable, "-m", "ftlab.cli", "serve", str(self.path), "--host", host,
                   "--port", str(self.port), "--log-level", "warning", *(["--runtime", runtime] if runtime else []),
                   *(["--int8"] if int8 else []), *(["--precision", precision] if precision != "auto" else []),
                   *extra_args]
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # the server's output; closed in stop()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        atexit.register(self.stop)  # a notebook kernel that exits takes its server with it
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.process.poll() is not None:
                message = self.output().strip().splitlines()[-6:]
                self.stop()
                raise RuntimeError("the server stopped during start-up:\n" + "\n".join(message))
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not answer on {self.url} within {startup_timeout:.0f} s")
            time.sleep(0.2)

    def output(self) -> str:
        """What the server process has printed so far."""
        if self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask the server to shut down (SIGINT, like Ctrl-C), kill it if it does not; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        atexit.unregister(self.stop)
        return self.process.returncode

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
