"""Answering a feedback round: the anonymous path.

A button press (the person known) opens the answer form with a ticket, the person's keyed
hash for the round and a tag proving copbot issued it; the submission arrives without the
person (the adapter drops them: an anonymous form) and is checked and kept by the ticket
alone. Nothing here logs, stores or counts who answered (docs/anonymity.md).
"""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

from bot.feedback import (
    DEFAULT_QUESTIONS,
    AlreadyAnswered,
    FeedbackRepository,
    Invitations,
    Round,
    RoundClosed,
    Ticket,
)
from bot.feedback_messages import answer_form
from bot.interaction import Interaction
from bot.model import ButtonPressed, FormSubmitted, UserRef
from bot.ports import Clock
from bot.visibility import Visibility

ALREADY = (
    "You have already answered this round. Thank you! Only one answer per person is kept, "
    "so that every voice counts the same."
)
CLOSED = "This round has closed, so it isn't taking answers any more. Thank you all the same."
FORGED = "This form wasn't one copbot opened for you. Please open it again from the round's button."


class FeedbackAnswers:
    def __init__(
        self,
        repository: FeedbackRepository,
        visibility: Visibility,
        invitations: Invitations,
        clock: Clock,
        timezone: ZoneInfo,
    ) -> None:
        self._repo = repository
        self._visibility = visibility
        self._invitations = invitations
        self._clock = clock
        self._tz = timezone

    async def open_form(self, ix: Interaction, event: ButtonPressed) -> None:
        # The press, with who pressed, was in the inbox until a moment ago: fold the
        # write-ahead log so that its frames leave the disk too, whatever the answer.
        await self._repo.forget_traces()
        value = event.value
        round_ = await self._repo.get(int(value)) if _is_id(value) else None
        key = await self._repo.key(round_.id) if round_ else None
        # Someone who may not answer hears what they would of a round that isn't there.
        if (
            round_ is None
            or key is None
            or not self.taking(round_)
            or not await self.may_answer(ix.user, round_)
        ):
            await ix.reply(CLOSED)
            return
        ticket = Ticket.issue(key, round_.id, ix.user.identity)
        if await self._repo.has_answered(round_.id, ticket.hash):
            await ix.reply(ALREADY)
            return
        await ix.open_form(answer_form(round_, ticket))

    async def check(self, event: FormSubmitted) -> dict[str, str]:
        """While the platform waits: a forged, stale or repeated answer, or one with a
        problem, keeps the form open with a message; nothing is stored. The person is
        known here only by the ticket's hash."""
        ticket = Ticket.decode(event.context)
        round_ = await self._repo.get(ticket.round_id) if ticket else None
        key = await self._repo.key(round_.id) if round_ else None
        # A message for the whole form goes under its first question.
        questions = round_.questions if round_ else DEFAULT_QUESTIONS
        first = event.values[0][0] if event.values else questions[0].id
        if ticket is None or round_ is None:
            return {first: FORGED}
        if key is None or not self.taking(round_):
            return {first: CLOSED}
        if not ticket.valid(key):
            return {first: FORGED}
        if await self._repo.has_answered(round_.id, ticket.hash):
            return {first: ALREADY}
        answers = _answers(round_, event)
        return {q.id: p for q in round_.questions if (p := q.problem(answers[q.id]))}

    async def answered(self, ix: Interaction, event: FormSubmitted) -> None:
        try:
            await self._keep(event)
        finally:
            # The submission, ticket beside answers, was in the inbox until a moment ago:
            # its frames leave the write-ahead log whether it was kept or refused.
            await self._repo.forget_traces()

    async def _keep(self, event: FormSubmitted) -> None:
        # The check passed a moment ago; what changed since (the round closed, a second
        # form of theirs got in first) is refused by the store in the same transaction.
        ticket = Ticket.decode(event.context)
        if ticket is None:
            return
        round_ = await self._repo.get(ticket.round_id)
        key = await self._repo.key(ticket.round_id)
        if round_ is None or key is None or not ticket.valid(key):
            return
        answers = _answers(round_, event)
        if any(q.problem(answers[q.id]) for q in round_.questions):
            return
        try:
            # Dated as the round opened, not as answered: a day only one person answered on
            # would pick out their answer to anyone with the database file.
            on = round_.opened_at.astimezone(UTC).date()
            await self._repo.answer(round_.id, ticket.hash, answers, on)
        except (AlreadyAnswered, RoundClosed):
            # Nobody to tell (the sender is anonymous), and nothing to log that could help
            # line this up with a person: the form's check already said so in nearly all cases.
            return

    async def may_answer(self, user: UserRef, round_: Round) -> bool:
        """A channel's round: its channel's people; an event's round: those it was sent to
        (those going); a round opened on the command line for no channel: everyone."""
        if round_.channel is not None:
            return await self._visibility.may_see(user, round_.channel)
        return await self._invitations.invited(round_.id, user.identity) is not False

    def taking(self, round_: Round) -> bool:
        """Open, and not past its closing day (the close job may not have run yet)."""
        if not round_.is_open:
            return False
        return round_.closes_on is None or self.today() <= round_.closes_on

    def today(self) -> date:
        return self._clock.now().astimezone(self._tz).date()


def _answers(round_: Round, event: FormSubmitted) -> dict[str, str]:
    """The answers as kept: the check judges these, so what it passes is what is kept."""
    values = dict(event.values)
    return {q.id: values.get(q.id, "").strip() for q in round_.questions}


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < len(text) <= 18
