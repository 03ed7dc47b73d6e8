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
from bot.command_words import CommandWords
from bot.commands import UsageError
from bot.core import Core
from bot.feedback import DEFAULT_QUESTIONS, FeedbackRepository, Question, Results, summarise
from bot.feedback_messages import results_message
from bot.feedback_questions import QuestionProblems, from_toml
from bot.model import ChannelRef
from bot.services.feedback import FeedbackFeature

_CLI = "cli"  # who opened it, when it was opened from the command line


def _repo(core: Core) -> FeedbackRepository:
    return core.feature(FeedbackFeature).repository


@cli.group()
def feedback() -> None:
    """Anonymous feedback rounds."""


@feedback.command("open")
@click.argument("title")
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A TOML file of your own questions (README: Your own questions).",
)
@click.option("--closes", default="", help="The last day it takes answers, YYYY-MM-DD.")
@click.option("--min", "threshold", default="", help="Answers needed before results show.")
@click.option(
    "--channel",
    default="",
    help="Announce it there: '#north' or a channel id (slack:#north if names repeat).",
)
@db_option
def feedback_open(
    title: str,
    questions_file: str | None,
    closes: str,
    threshold: str,
    channel: str,
    db: str | None,
) -> None:
    """Open a round; staff answer it through `/cop feedback` or a direct message."""
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS
    if questions_file is not None:
        try:
            with open(questions_file, encoding="utf-8") as f:
                questions = from_toml(f.read())
        except UnicodeDecodeError:
            raise click.ClickException(f"{questions_file} isn't UTF-8 text") from None
        except QuestionProblems as e:
            raise click.ClickException(f"{questions_file}:\n" + e.words) from None

    async def call(core: Core) -> None:
        feature = core.feature(FeedbackFeature)
        try:
            settings = feature.settings_of(title, closes, threshold)
        except UsageError as e:
            raise click.ClickException(str(e)) from None
        name, closes_on, k = settings
        where = await _channel(core, channel) if channel else None
        round_ = await feature.start(name, questions, closes_on, k, where, _CLI)
        announced = ""
        if where is not None:
            await feature.announce_soon(round_)
            announced = f" The running copbot announces it in {where.label} within a minute."
        words = CommandWords(core.settings.teams_name)
        click.echo(
            f"round {round_.id} open: {name}, {len(questions)} question(s), results from {k} "
            f"answers. Staff answer it through {words.everywhere('feedback')}, or by writing "
            f"`feedback` to copbot in a direct message.{announced}"
        )

    with_core(db, call)


@feedback.command("list")
@db_option
def feedback_list(db: str | None) -> None:
    """List feedback rounds: id, state, answers, threshold, title."""

    async def call(core: Core) -> None:
        rounds = await _repo(core).rounds()
        if not rounds:
            click.echo("No feedback rounds yet.")
        for r in rounds:
            closes = f" closes {r.closes_on}" if r.closes_on else ""
            counts = f"{r.answers} answer(s)\tresults from {r.threshold}"
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
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@db_option
def feedback_results(round_id: int, fmt: str, db: str | None) -> None:
    """Show a round's results (nothing but the count below its threshold)."""

    async def call(core: Core) -> None:
        results = await _results(core, round_id)
        if fmt == "json":
            click.echo(json.dumps(_json(results), ensure_ascii=False, indent=2))
        elif fmt == "csv":
            click.echo(_counts_csv(results), nl=False)
        else:
            click.echo(results_message(results).text.replace("**", ""))

    with_core(db, call)


@feedback.command("export")
@click.argument("round_id", type=int, metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True)
@db_option
def feedback_export(round_id: int, fmt: str, db: str | None) -> None:
    """Export a round's answers, one a row, in random order (empty, saying why, until
    the round has closed with enough answers)."""

    async def call(core: Core) -> None:
        results = await _results(core, round_id)
        rows = await _repo(core).answers(round_id) if results.shown else []
        questions = [q.id for q in results.round.questions]
        if fmt == "json":
            doc: dict[str, Any] = {
                "round": round_id,
                "title": results.round.title,
                "answers": rows,
            }
            if results.shown:
                # Ratings and choices counted, so nobody has to tally the rows by hand.
                doc["counts"] = {
                    q.question.id: dict(q.distribution) for q in results.questions if q.distribution
                }
            else:
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


async def _channel(core: Core, text: str) -> ChannelRef:
    """The channel copbot is in that ``text`` names: '#north', an id, or 'slack:#north'."""
    known = [c for c in await core.channels.list() if c.bot_member and not c.ref.is_direct]
    platform, sep, name = text.partition(":")
    if not (sep and platform in {c.ref.platform for c in known}):
        platform, name = "", text  # no platform named (Teams ids have colons of their own)
    wanted = name.strip().lstrip("#").casefold()
    found = [
        c.ref
        for c in known
        if platform in ("", c.ref.platform)
        and wanted in (c.ref.id.casefold(), c.ref.name.casefold())
    ]
    if not found:
        raise click.ClickException(
            f"copbot isn't in a channel called {text}; it can announce only where it has "
            "been added (nothing was opened)"
        )
    if len({c.platform for c in found}) > 1:
        places = " and ".join(sorted({c.platform for c in found}))
        raise click.ClickException(
            f"{text} is on {places}: write it as {found[0].platform}:{text} (nothing was opened)"
        )
    return found[0]


def _counts_csv(results: Results) -> str:
    """Each rating's and choice's counts, one option a row (the header only, until the
    round has closed with enough answers)."""
    if not results.shown:
        click.echo(results.hidden_because, err=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "text", "kind", "option", "count"])
    for q in results.questions:
        for option, count in q.distribution:
            question = q.question
            writer.writerow(
                [question.id, _cell(question.label), question.kind.value, _cell(option), count]
            )
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell that would start a spreadsheet formula is quoted, as the archive's export does.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
