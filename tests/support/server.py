"""``copbot serve`` as a separate process, the way people run it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def copbot_command() -> list[str]:
    script = Path(sys.executable).parent / "copbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]

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
    db: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[Served]:
    port = port or free_port()
    process = subprocess.Popen(
        [*copbot_command(), "serve", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"copbot serve exited early:\n{process.stdout.read()}")  # type: ignore[union-attr]
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
        if process.stdout:
            process.stdout.close()
