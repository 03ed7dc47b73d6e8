"""python -m bench archive [--quick] [--size N] [--only import|search|export]
python -m bench ingest [--platform slack|teams] [--quick] [--size N] [--clients 1,16,64] [--crash]
python -m bench fanout [--channels N]
python -m bench startup [--quick] [--size N]
python -m bench burst [--quick] [--size N]"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from storage import sqlite

Bench = Callable[[list[str], dict[str, Any] | None], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="copbot's benchmarks, each measured beside a reference in the same run.",
    )
    names = parser.add_subparsers(dest="name", metavar="NAME", required=True)
    archive = names.add_parser(
        "archive", help="import, search and export a synthetic archive (1,000,000 messages)"
    )
    archive.add_argument("--quick", action="store_true", help="20,000 messages instead")
    archive.add_argument("--size", type=_count, metavar="N", help="this many messages")
    archive.add_argument("--only", choices=("import", "search", "export"), help="one part only")
    ingest = names.add_parser(
        "ingest", help="signed Slack thread replies (or Teams activities) into copbot's inbox"
    )
    ingest.add_argument("--platform", choices=("slack", "teams"), default="slack")
    ingest.add_argument(
        "--quick", action="store_true", help="300 requests a level instead of 5,000"
    )
    ingest.add_argument("--size", type=_count, metavar="N", help="this many requests a level")
    ingest.add_argument(
        "--clients",
        type=_levels,
        metavar="1,16,64",
        help="the numbers of concurrent clients to measure at, one after another",
    )
    ingest.add_argument(
        "--crash",
        action="store_true",
        help="(Slack) kill copbot (SIGKILL) at the last acknowledgement, restart it, time the replay",
    )
    fanout = names.add_parser(
        "fanout",
        help="one event announced in N Slack and N Teams channels, within their rate limits",
    )
    fanout.add_argument("--channels", type=_count, metavar="N", help="per platform")
    fanout.add_argument("--quick", action="store_true", help="20 channels each instead of 200")
    startup = names.add_parser(
        "startup",
        help="`copbot serve` on a 1,000,000-message archive: time to /healthz, idle memory",
    )
    startup.add_argument("--quick", action="store_true", help="20,000 messages instead")
    startup.add_argument("--size", type=_count, metavar="N", help="this many messages")
    burst = names.add_parser(
        "burst",
        help="people's commands answered while a burst of Slack thread replies waits (25,000)",
    )
    burst.add_argument("--quick", action="store_true", help="2,000 replies instead")
    burst.add_argument("--size", type=_count, metavar="N", help="this many replies")
    for each in (archive, ingest, fanout, startup, burst):
        each.add_argument(
            "--json", action="store_true", help="one JSON object of every figure on stdout"
        )
    return parser


MAX_CLIENTS = 1000


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"give a whole number, 1 or more (not {text!r})")
    return value


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",")]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1 or max(levels) > MAX_CLIENTS or len(set(levels)) < len(levels):
        raise argparse.ArgumentTypeError(
            f"give numbers of clients, each once, from 1 to {MAX_CLIENTS:,}, like 1,16,64"
        )
    return levels


def _argv(chosen: argparse.Namespace) -> list[str]:
    """The options as each benchmark reads them (``--size N``), whichever way they were
    written (``--size=N``, ``--si N``): argparse has read and checked them already."""
    argv: list[str] = []
    for key, value in vars(chosen).items():
        if key in ("name", "json") or value is None or value is False:
            continue
        argv.append(f"--{key}")
        if isinstance(value, list):
            argv.append(",".join(map(str, value)))
        elif value is not True:
            argv.append(str(value))
    return argv


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        _parser().print_help()
        return 0
    # argparse answers --help (and mistakes) itself, before any benchmark starts.
    parser = _parser()
    chosen = parser.parse_args(args)
    if chosen.name == "ingest" and chosen.crash:
        if chosen.platform != "slack":
            parser.error("--crash is for Slack only")
        if chosen.clients:
            parser.error("--crash times the replay once, at 16 clients: leave out --clients")
    bench = _chosen(chosen)
    rest = _argv(chosen)
    if not chosen.json:
        return bench(rest, None)
    figures: dict[str, Any] = {}
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the one JSON object
        code = bench(rest, figures)
    print(json.dumps(_report(args, figures, ok=code == 0), indent=2, sort_keys=True))
    return code


def _chosen(chosen: argparse.Namespace) -> Bench:
    if chosen.name == "archive":
        from bench.archive import main as archive

        return archive
    if chosen.name == "startup":
        from bench.startup import main as startup

        return startup
    if chosen.name == "burst":
        from bench.burst import main as burst

        return burst
    if chosen.name == "fanout":
        from bench.fanout import main as fanout

        return fanout
    if chosen.platform == "teams":
        from bench.ingest_teams import main as ingest_teams

        return ingest_teams
    from bench.ingest import main as ingest

    return ingest


def _report(args: list[str], figures: dict[str, Any], *, ok: bool) -> dict[str, Any]:
    return {
        "benchmark": args[0],
        "command": "python -m bench " + " ".join(args),
        "ok": ok,  # every check the benchmark makes held (nothing lost, nothing doubled)
        "figures": figures,  # copbot's, and its references measured in the same run
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite.sqlite_version,
            "system": platform.platform(),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
