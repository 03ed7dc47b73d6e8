"""``copbot serve`` as a subprocess: it answers, it stops cleanly, it fails in one line."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

import bot.cli.serve as serve_module
from tests.support.server import free_port, run, serving

pytestmark = pytest.mark.subprocess


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(db_path: Path) -> None:
    with serving(db_path) as served:
        status, body = served.get_json("/healthz")
        assert status == 200
        assert body["status"] == "ok" and body["database"] == "ok"
        assert body["platforms"] == ["local"]
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=15) == 0
        output = served.output()
    assert f"copbot is running at {served.url}/" in output
    assert "copbot is stopping" in output
    assert "Traceback" not in output
    assert "act as anyone" not in output  # on this machine alone, as by default


def test_with_json_logs_everything_serve_writes_is_a_json_line(db_path: Path) -> None:
    # journald and docker collect stdout and stderr alike: one plain line breaks a parser.
    with serving(db_path, env={"COPBOT_LOG_FORMAT": "json"}) as served:
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=15) == 0
        output = served.output()
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    messages = [r["message"] for r in records]
    assert f"copbot is running at {served.url}/" in " ".join(messages)
    assert "copbot is stopping…" in messages


def test_ctrl_c_with_a_playground_page_open_stops_at_once(db_path: Path) -> None:
    """An open page keeps an event stream open (25 s at a time): stopping ends it rather
    than waiting for it, as it waited before (10 s)."""
    with serving(db_path) as served:
        host, port = served.url.removeprefix("http://").split(":")
        page = http.client.HTTPConnection(host, int(port), timeout=15)
        page.request("GET", "/api/playground/events")
        stream = page.getresponse()
        assert stream.status == 200 and stream.readline().startswith(b"retry:")
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=4) == 0
        assert stream.read().startswith(b"data: ")  # the rest of the stream, then its end
        page.close()
        assert "Traceback" not in served.output()


def test_on_every_address_as_in_a_container_the_playground_answers_at_localhost(
    db_path: Path,
) -> None:
    """`copbot serve --host 0.0.0.0` (the Dockerfile's): the address it prints is one a
    browser opens, and the playground answers a browser at this machine's own name, at the
    port a mapping (`docker run -p 8080:3978`) gives it, and no other site's."""
    with serving(db_path, host="0.0.0.0") as served:
        port = served.url.rsplit(":", 1)[1]
        for host, status in (("localhost:8080", 200), (f"evil.example:{port}", 421)):
            request = urllib.request.Request(served.url + "/", headers={"Host": host})
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    assert r.status == status and b"<html" in r.read()
            except urllib.error.HTTPError as e:
                assert e.code == status, host
        output = served.output()
    assert f"copbot is running at http://localhost:{port}/" in output
    # Other machines may reach it there, and the playground lets anyone act as anyone.
    assert "the playground lets whoever reaches it act as anyone" in output
    assert "127.0.0.1:3978:3978" in output


def test_a_taken_port_is_one_line(db_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--port", str(port), "--db", str(db_path)])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use; stop the other program "
        "or choose another port with --port"
    ]


def test_a_bad_database_path_is_one_line(tmp_path: Path) -> None:
    result = run(["serve", "--port", str(free_port()), "--db", str(tmp_path / "no" / "x.db")])
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot open database") and "does not exist" in line


def test_malformed_configuration_is_one_line(db_path: Path) -> None:
    result = run(
        ["serve", "--port", str(free_port()), "--db", str(db_path)],
        env={"COPBOT_TIMEZONE": "Middle/Earth"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: COPBOT_TIMEZONE 'Middle/Earth' is not a time zone; use a name like Europe/London"
    ]


def test_a_second_serve_on_the_same_database_is_refused_until_the_first_is_gone(
    db_path: Path,
) -> None:
    """Two would both take people's events and scheduled jobs, and announce an event twice."""
    with serving(db_path) as first:
        result = run(["serve", "--port", str(free_port()), "--db", str(db_path)])
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"Error: copbot is already running on {db_path} (process {first.process.pid}); "
            "stop it first, or give this one a database of its own with --db"
        ]
        assert first.get_json("/healthz")[0] == 200
        first.process.kill()  # however it ends, the database is free again
        first.process.wait(timeout=15)
    with serving(db_path) as second:
        assert second.get_json("/healthz")[0] == 200


async def test_a_request_head_that_never_ends_is_closed_after_the_idle_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slowloris: connections each holding half a request would otherwise stay open an
    hour, until copbot had no file descriptors left for Slack, Teams or its database."""
    monkeypatch.setattr(serve_module, "IDLE_TIMEOUT", 0.5)
    runner = serve_module.runner_for(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        async with asyncio.timeout(30):
            assert await reader.read() == b""  # closed by copbot, with nothing said
        writer.close()
    finally:
        await runner.cleanup()
