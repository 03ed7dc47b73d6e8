"""Anonymous feedback rounds in chat: open, answer, close, results.

Who answered what is never known to copbot past the button press: the answer form is
anonymous (the adapter drops the person before the submission exists) and carries only a
ticket, the person's keyed hash for that round with a tag proving copbot issued it. The
hash is written beside, never with, the answer (storage/feedback.py; docs/anonymity.md).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError, clip, parse_number
from bot.errors import WordedError
from bot.feedback import (
    DEFAULT_QUESTIONS,
    DEFAULT_THRESHOLD,
    MAX_THRESHOLD,
    MAX_TITLE,
    MIN_THRESHOLD,
    FeedbackRepository,
    Invitations,
    Question,
    Round,
    RoundClosed,
    RoundState,
    new_key,
    summarise,
)
from bot.feedback_messages import (
    ANONYMOUS,
    ANSWER,
    ANSWER_FORM,
    answer_button,
    answers,
    how_many,
    results_message,
    until,
)
from bot.feedback_questions import from_lines
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import (
    Button,
    Buttons,
    ChannelRef,
    Context,
    FormSubmitted,
    OutgoingMessage,
    Role,
    Text,
    UserRef,
)
from bot.ports import Clock
from bot.records import Job
from bot.registry import PersonalData, Registry
from bot.scheduler import JobKind, Scheduler
from bot.services.feedback_answers import FeedbackAnswers
from bot.services.feedback_forms import (
    CLOSES,
    MIN,
    OPEN_FORM,
    QUESTIONS,
    TITLE,
    open_form,
    questions_problem,
)
from bot.timefmt import date_for_people
from bot.visibility import Visibility

log = logging.getLogger(__name__)

CLOSE_JOB = "feedback.close"
ANNOUNCE_JOB = "feedback.announce"
# A round may stay open this long at most: further is a slip of the keyboard (9999 for
# 2029), and a day near the calendar's end has no day after it to close at.
CLOSES_WITHIN = timedelta(days=5 * 365)


class FeedbackFeature:
    def __init__(
        self,
        repository: FeedbackRepository,
        chat: Chat,
        clock: Clock,
        scheduler: Scheduler,
        visibility: Visibility,
        invitations: Invitations,
    ) -> None:
        self._repo = repository
        self._chat = chat
        self._clock = clock
        self._scheduler = scheduler
        self._visibility = visibility
        self._answers = FeedbackAnswers(
            repository, visibility, invitations, clock, scheduler.timezone
        )

    @property
    def repository(self) -> FeedbackRepository:
        return self._repo

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "feedback round(s) opened",
                ("feedback_rounds.opened_by",),
                erase=self._repo.forget_opener,
                on_opt_out=False,
                notice="The feedback rounds you open (never who answered them).",
            )
        )
        registry.verb(
            "feedback",
            "List the open feedback rounds, each with a button to answer anonymously",
            self.listing,
            private=True,  # asking for the forms is not noted against the person
        )
        registry.verb(
            "feedback open",
            "Open an anonymous feedback round and announce it here",
            self.open,
            usage='["TITLE" [closes YYYY-MM-DD] [min N]]',
            role=Role.FACILITATOR,
            details=(
                "With a title, asks the usual four: how useful the session was (1 to 5), what "
                "was most impactful, what you would change, and anything else. With nothing "
                "after it, opens a form where you can write your own questions (ratings, "
                f"choices, short or long answers). Results show once the round closes, with at "
                f"least {DEFAULT_THRESHOLD} answers; `min N` sets another number, from "
                f"{MIN_THRESHOLD} to {MAX_THRESHOLD:,}. `closes YYYY-MM-DD` closes it at the "
                'end of that day. For example: `feedback open "Workshop 3" min 4`.'
            ),
        )
        registry.verb(
            "feedback close",
            "Close a feedback round; who answered is forgotten for good",
            self.close,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "feedback results",
            "See a round's results (once it has closed with enough answers)",
            self.results,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "feedback min",
            "Change how many answers a round needs before its results show",
            self.threshold,
            usage="ID N",
            role=Role.FACILITATOR,
            details="Only while the round is open and nobody has answered: after that it stays "
            "as it was.",
        )
        registry.action(ANSWER, self._answers.open_form, private=True)
        registry.form(
            ANSWER_FORM, self._answers.answered, anonymous=True, check=self._answers.check
        )
        registry.form(OPEN_FORM, self.opened, role=Role.FACILITATOR, check=self.check_open)
        registry.job(JobKind(CLOSE_JOB, self._close_job, run_late=True))
        registry.job(JobKind(ANNOUNCE_JOB, self._announce_job, run_late=True))

    # -- facilitators -------------------------------------------------------------------

    async def open(self, ix: Interaction, args: Args) -> None:
        self._in_a_channel(ix)
        if not args:
            await ix.open_form(open_form())
            return
        title, closes_on, threshold = self._open_args(args)
        await self._open_here(ix, title, DEFAULT_QUESTIONS, closes_on, threshold)

    async def check_open(self, event: FormSubmitted) -> dict[str, str]:
        """While the form is open: each field's problem, worded; nothing is kept."""
        values = dict(event.values)
        problems = {}
        for field, check in (
            (TITLE, _title),
            (CLOSES, self._optional_date),
            (MIN, _optional_threshold),
        ):
            try:
                check(values.get(field, ""))
            except WordedError as e:
                problems[field] = str(e)
        if problem := questions_problem(values):
            problems[QUESTIONS] = problem
        return problems

    async def opened(self, ix: Interaction, event: FormSubmitted) -> None:
        self._in_a_channel(ix)
        values = dict(event.values)
        typed = values.get(QUESTIONS, "")
        questions = from_lines(typed) if typed.strip() else DEFAULT_QUESTIONS
        await self._open_here(
            ix,
            _title(values.get(TITLE, "")),
            questions,
            self._optional_date(values.get(CLOSES, "")),
            _optional_threshold(values.get(MIN, "")),
        )

    def settings_of(self, title: str, closes: str, threshold: str) -> tuple[str, date | None, int]:
        """A round's title, closing day and k as typed (the command line); raises UsageError."""
        return _title(title), self._optional_date(closes), _optional_threshold(threshold)

    async def start(
        self,
        title: str,
        questions: tuple[Question, ...],
        closes_on: date | None,
        threshold: int,
        channel: ChannelRef | None,
        by: str,
    ) -> Round:
        """Keep a new round, and its closing job; announcing it is up to the caller."""
        round_ = await self._repo.open(
            Round(
                0,
                title,
                questions,
                threshold,
                RoundState.OPEN,
                self._clock.now(),
                closes_on,
                channel,
                by,
            ),
            new_key(),
        )
        if closes_on is not None:
            await self._scheduler.once(
                CLOSE_JOB,
                {"round": round_.id},
                self._end_of(closes_on),
                f"feedback-close:{round_.id}",
            )
        return round_

    async def announce_soon(self, round_: Round) -> None:
        """Have the running copbot announce a round opened elsewhere (the command line)."""
        await self._scheduler.once(
            ANNOUNCE_JOB, {"round": round_.id}, self._clock.now(), f"feedback-announce:{round_.id}"
        )

    async def _open_here(
        self,
        ix: Interaction,
        title: str,
        questions: tuple[Question, ...],
        closes_on: date | None,
        threshold: int,
    ) -> None:
        channel = ix.origin.channel
        round_ = await self.start(title, questions, closes_on, threshold, channel, ix.user.identity)
        await self._chat.post(channel, self._announcement(round_))
        await ix.reply(
            f"Round {round_.id} is open: **{escape(title)}**. Close it with "
            f"`{ix.prefix} feedback close {round_.id}`; then, if at least {threshold} people "
            f"have answered, `{ix.prefix} feedback results {round_.id}` shows the results."
        )

    @staticmethod
    def _in_a_channel(ix: Interaction) -> None:
        if ix.origin.channel.is_direct:
            raise CommandError(
                "A round is announced in a channel, with a button to answer: run this in the "
                "channel whose people you'd like to hear from."
            )

    def _open_args(self, args: Args) -> tuple[str, date | None, int]:
        title = _title(args.get(0))
        closes_on: date | None = None
        threshold = DEFAULT_THRESHOLD
        rest = list(args.words[1:])
        while rest:
            word = rest.pop(0).lower()
            if word not in ("closes", "min"):
                # Most often the second word of a title that has spaces.
                raise UsageError(
                    f"I don't know `{clip(word)}`. Put the title in quotes if it has spaces "
                    '(`"Reflection session"`), then `closes YYYY-MM-DD` and `min N` if you '
                    "want them."
                )
            if not rest:
                example = "closes 2026-12-01" if word == "closes" else "min 5"
                raise UsageError(f"`{word}` needs a value after it, like `{example}`.")
            value = rest.pop(0)
            if word == "closes":
                closes_on = self._closing_date(value)
            else:
                threshold = _threshold(value)
        return title, closes_on, threshold

    def _optional_date(self, text: str) -> date | None:
        return self._closing_date(text.strip()) if text.strip() else None

    def _closing_date(self, text: str) -> date:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"`{clip(text)}` isn't a date; write it as YYYY-MM-DD, like 2026-12-01."
            ) from None
        today = self._answers.today()
        if day < today:
            raise UsageError(f"{date_for_people(day)} has passed; pick today or a later day.")
        if day > today + CLOSES_WITHIN:
            raise UsageError(
                "That's more than five years away; pick a closing day on or before "
                f"{date_for_people(today + CLOSES_WITHIN)}."
            )
        return day

    async def close(self, ix: Interaction, args: Args) -> None:
        round_ = await self._round(ix, args)
        if not await self._repo.close(round_.id, self._clock.now()):
            await ix.reply(f"Round {round_.id} was closed already.")
            return
        await ix.reply(
            f"Closed round {round_.id}, **{escape(round_.title)}**, "
            f"with {answers(round_.answers)}. "
            "The record of who answered is destroyed, so nobody can ever check a person "
            f"against it. {_after_closing(round_, ix.prefix)}"
        )

    async def results(self, ix: Interaction, args: Args) -> None:
        round_ = await self._round(ix, args)
        results = summarise(round_, await self._repo.answers(round_.id))
        await ix.reply(results_message(results))

    async def threshold(self, ix: Interaction, args: Args) -> None:
        if len(args) != 2:
            raise UsageError("Give the round's number and the number of answers it needs.")
        round_ = await self._round(ix, Args(args.words[:1]))
        k = _threshold(args.get(1))
        try:
            changed = await self._repo.set_threshold(round_.id, k)
        except RoundClosed:
            closed = await self._repo.get(round_.id) or round_
            raise CommandError(_closed_already(closed, ix.prefix)) from None
        if not changed:
            raise CommandError(
                f"Round {round_.id} has answers already, so it keeps needing "
                f"{round_.threshold}: changing it now could reveal who answered."
            )
        await ix.reply(
            f"Round {round_.id}'s results will show once it closes, "
            f"if at least {k} people have answered."
        )

    async def _round(self, ix: Interaction, args: Args) -> Round:
        if len(args) != 1:
            raise UsageError("Give the round's number.")
        listing = f"{ix.prefix} feedback"
        round_ = await self._repo.get(parse_number(args.get(0), "a round's number", listing))
        # A round announced in a channel they can't see doesn't exist for them, in these words.
        if round_ is None or not await self._visible(ix.user, round_):
            # `feedback` lists only the rounds open now: a closed one is found in the console.
            raise CommandError(
                f"There's no round {clip(args.get(0))}. `{listing}` lists the "
                "rounds open now, and the console's Feedback page lists every round "
                f"(`{ix.prefix} console` sends you a link)."
            )
        return round_

    # -- everyone -----------------------------------------------------------------------

    async def listing(self, ix: Interaction, args: Args) -> None:
        # Asking, with who asked, was in the inbox until a moment ago (emptied before this
        # ran): fold the write-ahead log so that its frames leave the disk too, as a press
        # of an answer button does, whatever the answer.
        await self._repo.forget_traces()
        if args:
            raise UsageError(
                f"`{ix.prefix} feedback` on its own lists the open rounds; "
                f"`{ix.prefix} help feedback` says more."
            )
        rounds = [
            r
            for r in await self._repo.rounds(open_only=True)
            if self._taking(r) and await self._answers.may_answer(ix.user, r)
        ]
        # Said whether or not a round was hidden, as in search: it tells nothing.
        left_out = (await self._visibility.view_of(ix.user)).list_note
        if not rounds:
            none = "There are no feedback rounds open right now."
            await ix.reply(f"{none}\n{left_out}" if left_out else none)
            return
        blocks: list[Text | Context | Buttons] = [Text("**Feedback rounds open now**")]
        for r in rounds:
            blocks.append(Text(f"**{escape(r.title)}** (round {r.id}){until(r)}"))
            blocks.append(
                Buttons((Button(ANSWER, "Answer anonymously", str(r.id), opens_form=True),))
            )
        blocks.append(Context(ANONYMOUS))
        if left_out:
            blocks.append(Context(left_out))
        await ix.reply(OutgoingMessage(tuple(blocks)))

    # -- jobs and helpers ---------------------------------------------------------------

    async def _close_job(self, job: Job) -> None:
        round_id = int(_payload(job).get("round", 0))
        await self._repo.close(round_id, self._clock.now())

    async def _announce_job(self, job: Job) -> None:
        round_ = await self._repo.get(int(_payload(job).get("round", 0)))
        # Closed before copbot got to it: nothing to invite anyone to.
        if round_ is not None and round_.channel is not None and self._taking(round_):
            await self._chat.post(round_.channel, self._announcement(round_))

    def _announcement(self, round_: Round) -> OutgoingMessage:
        return OutgoingMessage(
            (
                Text(f"**Feedback: {escape(round_.title)}**"),
                Text(
                    f"We'd value your view: {how_many(round_.questions)}. "
                    f"{ANONYMOUS} Results are shared only after the round closes, and "
                    f"only if at least {round_.threshold} people have answered.{until(round_)}"
                ),
                Buttons((answer_button(round_),)),
            ),
            fallback=f"Feedback: {round_.title}",
        )

    async def _visible(self, user: UserRef, round_: Round) -> bool:
        """A round announced in a channel is for those the platform shows the channel to."""
        return round_.channel is None or await self._visibility.may_see(user, round_.channel)

    def _taking(self, round_: Round) -> bool:
        return self._answers.taking(round_)

    def _end_of(self, day: date) -> datetime:
        tz = self._scheduler.timezone
        return datetime.combine(day + timedelta(days=1), time(0, 0), tz).astimezone(UTC)


def _title(text: str) -> str:
    title = text.strip()
    if not title:
        raise UsageError("Give the round a title, in quotes.")
    if len(title) > MAX_TITLE:
        raise UsageError(f"Keep the title to {MAX_TITLE} characters; it's {len(title):,}.")
    return title


def _optional_threshold(text: str) -> int:
    return _threshold(text.strip()) if text.strip() else DEFAULT_THRESHOLD


def _threshold(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise UsageError(f"`{clip(text)}` isn't a number of answers.")
    k = int(text)
    if not MIN_THRESHOLD <= k <= MAX_THRESHOLD:
        raise UsageError(
            f"A round needs at least {MIN_THRESHOLD} answers before its results show "
            f"(and at most {MAX_THRESHOLD:,}); fewer could reveal who said what."
        )
    return k


def _payload(job: Job) -> dict[str, Any]:
    doc = json.loads(job.payload)
    return doc if isinstance(doc, dict) else {}


def _closed_already(round_: Round, prefix: str) -> str:
    given = answers(round_.answers) if round_.answers else "no answers"
    return (
        f"Round {round_.id} has closed already, with {given}, so the number of answers it "
        f"needs stays at {round_.threshold}. {_after_closing(round_, prefix)}"
    )


def _after_closing(round_: Round, prefix: str) -> str:
    if round_.answers >= round_.threshold:
        return f"`{prefix} feedback results {round_.id}` shows the results."
    return (
        f"With fewer than {round_.threshold} answers, its results stay hidden, so that no "
        "answer can be traced to the person who gave it."
    )
