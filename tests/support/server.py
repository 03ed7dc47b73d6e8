"""``copbot serve`` as a separate process, the way people run it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# A folder (set for the whole test session by tests/conftest.py) where every `copbot serve`
# the suite starts keeps its standard output and error, for tests/test_serve_logs.py to read.
LOGS = "COPBOT_TEST_SERVE_LOGS"


async def until_healthy(
    url: str, process: asyncio.subprocess.Process, timeout: float = 30, every: float = 0.1
) -> None:
    """Wait until ``url`` (a server's /healthz) answers 200, asking ``every`` so many
    seconds; fail at once if the server stopped while starting."""
    import aiohttp  # only the asynchronous callers need it

    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
        while True:
            if process.returncode is not None:
                raise RuntimeError("the server stopped while starting")
            try:
                async with session.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(every)


def copbot_command() -> list[str]:
    script = Path(sys.executable).parent / "copbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def log_file(label: str) -> IO[bytes]:
    """Where one `copbot serve` run writes its output: a new file in the session's folder
    (in the system's temporary folder when there is none). The caller closes it."""
    folder = os.environ.get(LOGS) or tempfile.gettempdir()
    name = f"copbot-{label}-{os.getpid()}-{time.monotonic_ns()}.log"
    return open(Path(folder) / name, "wb")


def keep_log(label: str, output: str) -> None:
    """Keep output a test read from a `copbot serve` run, beside the others."""
    with log_file(label) as f:
        f.write(output.encode())


def kept_logs() -> list[Path]:
    folder = os.environ.get(LOGS)
    return sorted(Path(folder).glob("*.log")) if folder else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        """What the process has written so far (empty when its output is not kept)."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def get_json(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 30):
    return subprocess.run(
        copbot_command() + args,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@contextlib.contextmanager
def serving(
    db: Path, env: dict[str, str] | None = None, port: int | None = None, host: str = ""
) -> Iterator[Served]:
    port = port or free_port()
    log = log_file("serve")
    bind = ["--host", host] if host else []
    process = subprocess.Popen(
        [*copbot_command(), "serve", *bind, "--port", str(port), "--db", str(db)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    served = Served(f"http://127.0.0.1:{port}", process, Path(log.name))
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"copbot serve exited early:\n{served.output()}")
            with contextlib.suppress(OSError):
                status, _ = served.get_json("/healthz")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("copbot serve did not answer /healthz within 30 s")
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
