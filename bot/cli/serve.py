from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import socket
from dataclasses import replace

import click
from aiohttp import web

from bot.cli.base import cli, db_option, load_settings, run
from bot.logs import configure_logging
from bot.settings import Settings
from bot.stopping import REQUESTS
from storage.database import StorageError
from storage.one_server import serving

log = logging.getLogger(__name__)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=3978,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port to listen on (0: any free one).",
)
@db_option
def serve(host: str, port: int, db: str | None) -> None:
    """Run the bot: every configured platform, the scheduler and (without Slack or Teams
    credentials) the playground at http://HOST:PORT/."""
    settings = load_settings(db)
    configure_logging(settings.log_format)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(serving(settings.db_path))
        except StorageError as e:
            raise click.ClickException(str(e)) from None
        sock = _listen(host, port)
        run(_serve(settings, sock))


def _listen(host: str, port: int) -> socket.socket:
    """Bind first, so that a taken port fails before anything starts."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address as a URL writes it, [::1]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use; stop the other program "
                "or choose another port with --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _real_platforms(settings: Settings) -> str:
    """The platforms people reach copbot from other machines, as words ("" for none): Slack,
    and Teams with an app id (without one it runs only on this machine, for an emulator)."""
    names = ["Slack"] if settings.slack is not None else []
    if settings.teams is not None and settings.teams.authenticated:
        names.append("Teams")
    return " and ".join(names)


# How long a connection may sit without a whole request: a request's head trickled in a
# byte at a time (slowloris) or a connection left open, idle. Longer than nginx keeps its
# idle connections to copbot (60 s), so that nginx is the one to close them.
IDLE_TIMEOUT = 75.0


def runner_for(app: web.Application) -> web.AppRunner:
    return web.AppRunner(
        app, shutdown_timeout=REQUESTS, access_log=None, keepalive_timeout=IDLE_TIMEOUT
    )


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from bot.app import CORE, create_app

    host, port = sock.getsockname()[:2]
    bound = host
    if host in ("0.0.0.0", "::"):  # every address (as in a container): this machine's name
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 address, as a URL writes it
    if not settings.public_url:
        elsewhere = _real_platforms(settings)
        if elsewhere:
            # Links to this machine would reach nobody in Slack or Teams: copbot sends none,
            # and says so (exports and console sign-ins answer that COPBOT_PUBLIC_URL isn't set).
            log.warning(
                "COPBOT_PUBLIC_URL isn't set, so copbot can't send people in %s links to "
                "export downloads, console sign-ins or event calendars; set it to the "
                "address they reach copbot at, like https://copbot.example.nhs.uk",
                elsewhere,
            )
        else:
            # Only this machine's playground (or an emulator): links point here.
            settings = replace(settings, public_url=f"http://{host}:{port}")
    app = create_app(settings)
    runner = runner_for(app)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    where = f"http://{host}:{port}/"
    platforms = app[CORE].chat.platforms
    playground = " (open it in your browser for the playground)" if "local" in platforms else ""
    _say(settings, f"copbot is running at {where}{playground}. Press Ctrl+C to stop.")
    if "local" in platforms and (elsewhere := _real_platforms(settings)):
        # Only role changes and erasure are kept to the playground's own people.
        log.warning(
            "the playground is on beside %s (COPBOT_PLAYGROUND=on): whoever opens it can act "
            "as any of its people, an admin among them, on %s's events, schedules and "
            "feedback rounds too; set COPBOT_PLAYGROUND=off once you've tried it",
            elsewhere,
            elsewhere,
        )
    if "local" in platforms and not ipaddress.ip_address(bound).is_loopback:
        # Its Host check stops other websites in a browser, not another machine's client.
        log.warning(
            "the playground lets whoever reaches it act as anyone, an admin among them, and "
            "copbot is listening on %s, which other machines may reach: keep the port to "
            "this machine (docker run -p 127.0.0.1:3978:3978, or --host 127.0.0.1), or set "
            "COPBOT_PLAYGROUND=off",
            bound,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        _say(settings, "copbot is stopping…")
        await runner.cleanup()


def _say(settings: Settings, text: str) -> None:
    """For the person at the terminal; with COPBOT_LOG_FORMAT=json a log record instead, so
    that a log collector reading the output (journald, docker) gets JSON lines alone."""
    if settings.log_format == "json":
        log.info("%s", text)
    else:
        click.echo(text)
