"""The authorization matrix in chat: what staff may not do, found from the registry (so a
new privileged verb, button or form is covered without a change here), and a digest of the
database's rows to show that trying it changed nothing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bot.commands import Verb
from bot.model import Role
from bot.registry import Registry
from storage import sqlite

# Arguments that would do harm were they allowed; any verb not named here gets "1".
ARGS = {
    "role grant": "admin {me}",
    "role revoke": "admin {admin}",
    "prompt": "language",
    "prompt preview": "discomfort-noticing",
    "schedule prompt": "any every 7 at 10:00",
    "feedback open": '"Who runs this?" min 3',
    "feedback min": "1 1",
    "region link": "north",
    "region unlink": "north",
    "export": "jsonl",
    "remove": "https://example.invalid/not-a-message",
}
# Tables that note that someone spoke to copbot at all (the delivery log, the people
# directory, Teams' conversation references): a refused request still arrived.
BOOKKEEPING = frozenset({"inbox", "people", "teams_conversations"})
REFUSED = re.compile(r"is for (facilitators and admins|admins)\. If you need it")


def privileged_verbs(registry: Registry) -> list[Verb]:
    return sorted((v for v in registry.commands if v.role > Role.STAFF), key=lambda v: v.name)


def privileged_actions(registry: Registry) -> list[str]:
    return sorted(prefix for prefix, route in registry.actions.items() if route.role > Role.STAFF)


def privileged_forms(registry: Registry) -> list[str]:
    return sorted(form for form, route in registry.forms.items() if route.role > Role.STAFF)


def command_text(verb: Verb, me: str, admin: str) -> str:
    return f"{verb.name} {ARGS.get(verb.name, '1').format(me=me, admin=admin)}".strip()


def digest(path: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each table's rows, hashed in a stable order: equal digests mean equal data."""
    conn = sqlite.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "select name from sqlite_master where type = 'table' order by name"
            ).fetchall()
            if name not in skip
        ]
        found = {}
        for table in tables:
            rows = sorted(repr(tuple(r)) for r in conn.execute(f'select * from "{table}"'))
            found[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return found
    finally:
        conn.close()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose rows differ."""
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
