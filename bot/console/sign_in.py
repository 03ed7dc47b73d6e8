"""Signing in to the console through chat: single-use links, then a session cookie.

A link is ``id.expiry.identity workspace`` signed for the purpose "console-link": nothing is written
when one is made, so a link asked for and never opened leaves no trace. Using one writes
its id, so it works once. A session's id travels signed in a cookie; the database keeps
only its SHA-256, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from bot.console.ports import SessionRepository
from bot.console.records import ConsoleSession, SignInLink
from bot.ports import Clock
from bot.signing import Signer

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=8)


class LinkProblem(enum.Enum):
    NOT_GENUINE = "not genuine"
    EXPIRED = "expired"
    USED = "used"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class SignInLinks:
    def __init__(self, signer: Signer, repository: SessionRepository, clock: Clock) -> None:
        self._signer = signer
        self._repo = repository
        self._clock = clock

    def issue(self, identity: str, workspace: str = "") -> str:
        """A token for a link that signs ``identity`` in, once, within 10 minutes, to read
        the archive of ``workspace`` (where they asked for it)."""
        expires = int((self._clock.now() + LINK_LIFETIME).timestamp())
        # The workspace follows a space, so neither may hold one: "teams:a T-B" would
        # otherwise read back as teams:a, signed in to T-B. No platform's ids do.
        if " " in identity or " " in workspace:
            raise ValueError("a console link's identity and workspace hold no space")
        where = f" {workspace}" if workspace else ""
        return self._signer.sign(f"{secrets.token_urlsafe(16)}.{expires}.{identity}{where}")

    def read(self, token: str) -> SignInLink:
        value = self._signer.unsign(token)
        if value is None or value.count(".") < 2:
            raise LinkRefused(LinkProblem.NOT_GENUINE)
        link_id, expires, rest = value.split(".", 2)
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 10:
            raise LinkRefused(LinkProblem.NOT_GENUINE)
        identity, _, workspace = rest.partition(" ")
        at = datetime.fromtimestamp(int(expires), UTC)
        link = SignInLink(link_id, identity, at, workspace)
        if link.expires_at <= self._clock.now():
            raise LinkRefused(LinkProblem.EXPIRED)
        return link

    async def check(self, token: str) -> SignInLink:
        """The link, if it would still work; uses nothing up (link checkers open links)."""
        link = self.read(token)
        if await self._repo.link_used(link.id):
            raise LinkRefused(LinkProblem.USED)
        return link

    async def redeem(self, token: str) -> SignInLink:
        link = self.read(token)
        if not await self._repo.use_link(link.id, link.identity, self._clock.now()):
            raise LinkRefused(LinkProblem.USED)
        return link


class Sessions:
    def __init__(
        self,
        signer: Signer,
        csrf_signer: Signer,
        repository: SessionRepository,
        clock: Clock,
    ) -> None:
        self._signer = signer
        self._csrf = csrf_signer
        self._repo = repository
        self._clock = clock

    async def open(self, identity: str, workspace: str = "") -> tuple[ConsoleSession, str]:
        """A new session and the cookie value that carries it."""
        now = self._clock.now()
        session = ConsoleSession(
            secrets.token_urlsafe(32), identity, now + SESSION_LIFETIME, workspace
        )
        await self._repo.open(_hash(session.id), identity, now, session.expires_at, workspace)
        return session, self._signer.sign(session.id)

    async def current(self, cookie: str | None) -> ConsoleSession | None:
        if not cookie:
            return None
        session_id = self._signer.unsign(cookie)
        if session_id is None:
            return None
        found = await self._repo.find(_hash(session_id), self._clock.now())
        if found is None:
            return None
        identity, expires_at, workspace = found
        return ConsoleSession(session_id, identity, expires_at, workspace)

    async def end(self, session: ConsoleSession) -> None:
        await self._repo.end(_hash(session.id), self._clock.now())

    async def end_all(self, identity: str) -> int:
        return await self._repo.end_all(identity, self._clock.now())

    def csrf_token(self, session: ConsoleSession) -> str:
        """The token every form of this session carries back: another site can't read it."""
        return self._csrf.sign(session.id)

    def csrf_ok(self, session: ConsoleSession, token: str) -> bool:
        value = self._csrf.unsign(token)
        return value is not None and hmac.compare_digest(value, session.id)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
