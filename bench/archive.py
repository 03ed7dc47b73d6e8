"""The archive benchmark: import, search and export over a realistic corpus, each beside a
reference measured in the same run on the same machine.

    python -m bench archive            # 1,000,000 messages
    python -m bench archive --quick    # 20,000 messages, for CI

- import: `copbot import slack-export` (its time and peak memory) against the raw floor (a
  bare executemany into a table with no index, then an FTS5 build), from the same parsed
  messages;
- search: p50/p95 over rare words, common words, phrases, prefixes and filtered queries,
  against what archive bots usually do (LIKE '%word%' ordered by time);
- export: `copbot export --format jsonl` against `sqlite-utils rows --nl` on a plain
  table of the same records, with the export's peak memory (its own rusage); then JSON, CSV, Markdown and HTML,
  each beside JSON Lines' time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.corpus import make_corpus, write_slack_export
from bot.archive_export import FIELDS
from bot.records import ArchiveFilter
from bot.search_query import parse_terms
from storage import sqlite
from storage.archive_rows import filter_sql
from storage.archive_search import search
from storage.database import connect

DATA = Path(__file__).resolve().parent / ".data"


def _copbot() -> list[str]:
    script = Path(sys.executable).parent / "copbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


_MEASURE = (
    "import resource, subprocess, sys, time; start = time.perf_counter(); "
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(code)"
)


def _run(args: list[str]) -> tuple[float, int]:
    """Run a command; return its wall time and its own peak memory (KiB). A small process in
    between starts it, so the peak isn't this large process's, copied by fork."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    elapsed, peak = done.stdout.split()
    return float(elapsed), int(peak)


def prepare(size: int) -> Path:
    folder = DATA / f"slack-export-{size}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing a Slack export of {size:,} messages to {folder} …", flush=True)
        write_slack_export(folder, make_corpus(), size)
        (folder / ".complete").write_text("ok")
    return folder


def bench_import(export: Path, db: Path) -> dict[str, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    ours, peak = _run([*_copbot(), "import", "slack-export", str(export), "--db", str(db)])
    floor = _raw_floor(export, db.with_name("floor.db"))
    # The peak is its largest process's: the importer, or the worker reading the export.
    return {"import_s": ours, "import_peak_mib": peak / 1024, "floor_s": floor}


def _raw_floor(export: Path, db: Path) -> float:
    from adapters.slack.history import SlackExport

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rows = [
        (m.channel_id, m.thread_id, m.message_id, m.author_id, m.text, m.created_at.isoformat())
        for batch in SlackExport(export).batches(list, 20_000)
        for m in batch
    ]
    conn = sqlite.connect(db, isolation_level=None)
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = normal")
    conn.execute(
        "create table m (id integer primary key, channel text, thread text, message text, author text, text text, created text)"
    )
    start = time.perf_counter()
    conn.execute("begin")
    conn.executemany(
        "insert into m (channel, thread, message, author, text, created) values (?,?,?,?,?,?)", rows
    )
    conn.execute("create virtual table f using fts5(text, content='m', content_rowid='id')")
    conn.execute("insert into f (f) values ('rebuild')")
    conn.execute("commit")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _queries(conn: sqlite.Connection, rng: random.Random) -> list[tuple[str, str, ArchiveFilter]]:
    sample = [
        r[0] for r in conn.execute("select text from archive_messages where id % 97 = 0 limit 3000")
    ]
    counts = Counter(w for text in sample for w in text.split())
    common = [w for w, _ in counts.most_common(15)]
    middle = [w for w, c in counts.most_common(400)[200:400]]
    rare = [w for w, c in counts.items() if c == 1][:400]
    phrases = []
    for text in sample:
        words = text.split()
        if len(words) > 3:
            i = rng.randrange(len(words) - 1)
            phrases.append(f'"{words[i]} {words[i + 1]}"')
    last = conn.execute("select max(created_at) from archive_messages").fetchone()[0]
    recent = datetime.fromisoformat(last.replace("Z", "+00:00")) - timedelta(days=90)
    channel, author = conn.execute(
        "select channel_name, author_id from archive_messages where id = 4242 or id = (select max(id) from archive_messages) limit 1"
    ).fetchone()
    none = ArchiveFilter()
    mix: list[tuple[str, str, ArchiveFilter]] = []
    mix += [("rare word", w, none) for w in rng.sample(rare, 20)]
    mix += [("common word", w, none) for w in common[:10]]
    mix += [("middling word", w, none) for w in rng.sample(middle, 15)]
    mix += [
        ("two words", f"{a} {b}", none)
        for a, b in zip(rng.sample(middle, 10), rng.sample(common, 10), strict=True)
    ]
    mix += [("phrase", p, none) for p in rng.sample(phrases, 15)]
    mix += [("prefix", w[:4] + "*", none) for w in rng.sample(middle, 10) if len(w) > 4]
    mix += [
        ("region filter", w, ArchiveFilter(region="north")) for w in rng.sample(common + middle, 10)
    ]
    mix += [
        ("channel filter", w, ArchiveFilter(channel=channel))
        for w in rng.sample(common + middle, 10)
    ]
    mix += [("author filter", w, ArchiveFilter(author=author)) for w in rng.sample(middle, 5)]
    mix += [
        ("last 90 days", w, ArchiveFilter(since=recent.astimezone(UTC)))
        for w in rng.sample(common + middle, 10)
    ]
    return mix


def bench_search(db: Path) -> dict[str, float]:
    _warm(db)  # or the first pass times the disk: at 10M the file is 3.3 GB
    conn = connect(db)
    rng = random.Random(5)
    mix = _queries(conn, rng)
    timings: dict[str, list[float]] = {}
    every: list[float] = []
    for _ in range(3):
        for kind, text, f in mix:
            terms = parse_terms(text)
            assert terms, text
            start = time.perf_counter()
            search(conn, terms, f, 10)
            elapsed = (time.perf_counter() - start) * 1000
            timings.setdefault(kind, []).append(elapsed)
            every.append(elapsed)
    # The same searches as archive bots without a full-text index run them: every word as
    # LIKE '%word%', filters as plain conditions, the newest ten first.
    like: list[float] = []
    for _, text, f in mix:
        where, params = filter_sql(f)
        terms = parse_terms(text)
        likes = " and ".join("m.text like ?" for _ in terms)
        values = [f"%{' '.join(t.words)}%" for t in terms]
        start = time.perf_counter()
        conn.execute(
            f"select m.id, m.text from archive_messages m where {likes} and {where}"
            " order by m.created_at desc limit 10",
            [*values, *params],
        ).fetchall()
        like.append((time.perf_counter() - start) * 1000)
    conn.close()
    result = {
        "search_p50_ms": statistics.median(every),
        "search_p95_ms": _p95(every),
        "search_max_ms": max(every),
        "like_median_ms": statistics.median(like),
        "queries": len(mix),
    }
    for kind, values in timings.items():
        result[f"p95 {kind} ms"] = _p95(values)
    return result


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


EXPORT_FORMATS = ("json", "csv", "markdown", "html")  # beside JSON Lines, the one compared


def plain_table(db: Path) -> Path:
    """The export's records as one plain table in a file of their own: what
    ``sqlite-utils rows`` is fairly measured on (copbot's ``archive_messages`` is a view
    over compact tables, which would slow the reference down, not copbot up)."""
    plain = db.with_name(f"{db.stem}-plain.db")
    if plain.exists() and plain.stat().st_mtime >= db.stat().st_mtime:
        return plain
    plain.unlink(missing_ok=True)
    conn = sqlite.connect(plain, isolation_level=None)
    try:
        conn.execute("attach database ? as archive", [str(db)])
        conn.execute(
            f"create table archive_messages as select {', '.join(FIELDS)}"
            " from archive.archive_messages order by id"
        )
    finally:
        conn.close()
    return plain


def _warm(path: Path) -> None:
    """Read a file through once, so that the first command timed doesn't pay for bringing
    it into the page cache while the ones after it don't."""
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass


def bench_export(db: Path) -> dict[str, float]:
    _warm(db)
    ours, peak = _run([*_copbot(), "export", "--format", "jsonl", "--db", str(db)])
    reference = (
        shutil.which("sqlite-utils", path=str(Path(sys.executable).parent)) or "sqlite-utils"
    )
    theirs, _ = _run([reference, "rows", str(plain_table(db)), "archive_messages", "--nl"])
    figures = {"export_s": ours, "export_peak_mib": peak / 1024, "sqlite_utils_rows_s": theirs}
    for fmt in EXPORT_FORMATS:
        elapsed, peak = _run([*_copbot(), "export", "--format", fmt, "--db", str(db)])
        figures[f"export_{fmt}_s"] = elapsed
        figures["export_peak_mib"] = max(figures["export_peak_mib"], peak / 1024)
    return figures


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    quick = "--quick" in argv
    size = 20_000 if quick else 1_000_000
    if "--size" in argv:
        size = int(argv[argv.index("--size") + 1])
    only = argv[argv.index("--only") + 1] if "--only" in argv else ""
    DATA.mkdir(exist_ok=True)
    export = prepare(size)
    db = DATA / f"archive-{size}.db"
    print(
        f"copbot archive benchmark, {size:,} messages (SQLite {sqlite.sqlite_version}, {os.cpu_count()} cores)"
    )
    figures: dict[str, float] = {"size": size}
    if only in ("", "import") or not db.exists():
        figures.update(_report_import(export, db))
    if only in ("", "search"):
        figures.update(_report_search(db, like_target=100 if size >= 10_000_000 else 20))
    if only in ("", "export"):
        figures.update(_report_export(db))
    (DATA / f"archive-{size}.json").write_text(json.dumps(figures, indent=2))
    if out is not None:
        out.update(figures)
    return 0


def _report_import(export: Path, db: Path) -> dict[str, float]:
    imported = bench_import(export, db)
    print(
        f"import      {imported['import_s']:8.1f} s   raw floor (executemany + FTS5 build) "
        f"{imported['floor_s']:.1f} s   target < 20 s at 1M   "
        f"peak memory {imported['import_peak_mib']:.0f} MiB (its largest process)"
    )
    sized = bench_size(db)
    print(
        f"size        {sized['db_mb']:8.0f} MB on disk for {sized['text_mb']:.0f} MB of message "
        f"text ({sized['db_per_text']:.2f}x)   target < 3x"
    )
    _print_parts(sized, "mb ", "{:7.1f} MB", width=36)
    return imported | sized


def bench_size(db: Path) -> dict[str, float]:
    """The file's size beside the text it holds, and where the bytes go (the dbstat table:
    every table and index, the search index's parts included)."""
    conn = connect(db)
    try:
        text = conn.execute("select sum(length(cast(text as blob))) from archive_messages")
        text_mb = (text.fetchone()[0] or 0) / 1e6
        parts = conn.execute(
            "select name, sum(pgsize) from dbstat group by name order by 2 desc"
        ).fetchall()
    finally:
        conn.close()
    on_disk = sum(
        Path(f"{db}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{db}{suffix}").exists()
    )
    sized = {
        "db_mb": on_disk / 1e6,
        "text_mb": text_mb,
        "db_per_text": on_disk / 1e6 / max(text_mb, 1e-9),
    }
    sized.update({f"mb {name}": size / 1e6 for name, size in parts if size >= 1e6})
    return sized


def _report_search(db: Path, like_target: int) -> dict[str, float]:
    searched = bench_search(db)
    ratio = searched["like_median_ms"] / searched["search_p50_ms"]
    print(
        f"search      p50 {searched['search_p50_ms']:.2f} ms   p95 {searched['search_p95_ms']:.2f} ms   "
        f"max {searched['search_max_ms']:.1f} ms over {searched['queries']}×3 queries   target p95 < 20 ms"
    )
    print(
        f"            the same searches as a LIKE '%word%' scan ordered by time: median "
        f"{searched['like_median_ms']:.0f} ms; copbot's median is {ratio:.0f}x faster   target ≥ {like_target}x"
    )
    _print_parts(searched, "p95 ", "p95 {:7.2f} ms", width=16, cut=3)
    return searched


def _print_parts(
    figures: dict[str, float], prefix: str, shape: str, width: int, cut: int = 0
) -> None:
    """The figures under ``prefix`` (a breakdown), one indented line each."""
    for key, value in figures.items():
        if key.startswith(prefix):
            name = key[len(prefix) : len(key) - cut]
            print(f"              {name:<{width}} {shape.format(value)}")


def _report_export(db: Path) -> dict[str, float]:
    exported = bench_export(db)
    speed = exported["sqlite_utils_rows_s"] / exported["export_s"]
    print(
        f"export      {exported['export_s']:8.1f} s   sqlite-utils rows --nl {exported['sqlite_utils_rows_s']:.1f} s "
        f"({speed:.2f}x its speed; target ≥ 2)   peak memory {exported['export_peak_mib']:.0f} MiB, any format (target < 100)"
    )
    for fmt in EXPORT_FORMATS:
        seconds = exported[f"export_{fmt}_s"]
        print(
            f"              {fmt:<9} {seconds:6.1f} s   {seconds / exported['export_s']:.2f}x JSON Lines' time   target ≤ 2x"
        )
    return exported
