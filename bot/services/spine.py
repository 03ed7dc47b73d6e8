"""What the spine itself keeps of people: events waiting in the inbox, and who owns jobs."""

from __future__ import annotations

from bot.ports import InboxRepository, JobRepository
from bot.registry import PersonalData, Registry


class SpineData:
    def __init__(self, inbox: InboxRepository, jobs: JobRepository) -> None:
        self._inbox = inbox
        self._jobs = jobs

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "event(s) not yet handled",
                ("inbox.identity", "inbox.payload"),
                erase=self._inbox.erase,
                on_opt_out=True,  # it may hold their words, not yet archived
                notice=(
                    "What you send copbot, from when it arrives until copbot has dealt with it "
                    "(usually a moment)."
                ),
            )
        )
        registry.keeps(
            PersonalData(
                "schedule(s) they set up (kept, without their name)",
                ("jobs.owner", "recurrences.owner"),
                erase=self._jobs.forget_owner,
                on_opt_out=False,
                notice="The prompt schedules you set up.",
            )
        )
