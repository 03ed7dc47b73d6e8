from __future__ import annotations

from bot.people import People
from bot.registry import PersonalData, Registry


class PeopleFeature:
    """The people directory: the names copbot shows people by."""

    def __init__(self, people: People) -> None:
        self._people = people

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "name(s) in the people directory",
                ("people.identity", "people.name"),
                erase=self._people.erase,
                # Opting out stops the archive; roles and schedules still name the person.
                on_opt_out=False,
                notice="Your name as the platform gives it, and when copbot last saw you.",
            )
        )
