"""Feedback rounds from the command line: list them, read results, export the answers.

Like chat, the command line shows nothing of a round below its threshold, and answers
come out in random order."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from bot.cli.base import cli, db_option, with_core
from bot.core import Core
from bot.feedback import FeedbackRepository, Results, summarise
from bot.services.feedback import FeedbackFeature, results_message


def _repo(core: Core) -> FeedbackRepository:
    return core.feature(FeedbackFeature).repository


@cli.group()
def feedback() -> None:
    """Anonymous feedback rounds."""


@feedback.command("list")
@db_option
def feedback_list(db: str | None) -> None:
    """List feedback rounds: id, state, answers, threshold, title."""

    async def call(core: Core) -> None:
        for r in await _repo(core).rounds():
            closes = f" closes {r.closes_on}" if r.closes_on else ""
            counts = f"{r.answers} answer(s)\tk={r.threshold}"
            click.echo(f"{r.id}\t{r.state.value}\t{counts}\t{r.title}{closes}")

    with_core(db, call)


async def _results(core: Core, round_id: int) -> Results:
    repo = _repo(core)
    round_ = await repo.get(round_id)
    if round_ is None:
        raise click.ClickException(
            f"there's no feedback round {round_id}; see `copbot feedback list`"
        )
    return summarise(round_, await repo.answers(round_id))


def _json(results: Results) -> dict[str, Any]:
    r = results.round
    doc: dict[str, Any] = {
        "round": r.id,
        "title": r.title,
        "state": r.state.value,
        "answers": results.count,
        "threshold": r.threshold,
        "shown": results.shown,
    }
    if not results.shown:
        doc["hidden_because"] = results.hidden_because
        return doc
    doc["questions"] = [
        {
            "id": q.question.id,
            "label": q.question.label,
            "kind": q.question.kind.value,
            "answered": q.answered,
            **({"distribution": dict(q.distribution)} if q.distribution else {}),
            **({"mean": q.mean} if q.mean is not None else {}),
            **({"answers": list(q.texts)} if q.texts or not q.distribution else {}),
        }
        for q in results.questions
    ]
    return doc


@feedback.command("results")
@click.argument("round_id", type=int, metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@db_option
def feedback_results(round_id: int, fmt: str, db: str | None) -> None:
    """Show a round's results (nothing but the count below its threshold)."""

    async def call(core: Core) -> None:
        results = await _results(core, round_id)
        if fmt == "json":
            click.echo(json.dumps(_json(results), ensure_ascii=False, indent=2))
        else:
            click.echo(results_message(results).text.replace("**", ""))

    with_core(db, call)


@feedback.command("export")
@click.argument("round_id", type=int, metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True)
@db_option
def feedback_export(round_id: int, fmt: str, db: str | None) -> None:
    """Export a round's answers, one a row, in random order (empty, saying why, below k)."""

    async def call(core: Core) -> None:
        results = await _results(core, round_id)
        rows = await _repo(core).answers(round_id) if results.shown else []
        questions = [q.id for q in results.round.questions]
        if fmt == "json":
            doc = {"round": round_id, "title": results.round.title, "answers": rows}
            if not results.shown:
                doc["empty_because"] = results.hidden_because
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        if not results.shown:
            click.echo(results.hidden_because, err=True)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(questions)
        for row in rows:
            writer.writerow([_cell(row.get(q, "")) for q in questions])
        click.echo(out.getvalue(), nl=False)

    with_core(db, call)


def _cell(text: str) -> str:
    # A cell that would start a spreadsheet formula is quoted, as the archive's export does.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
