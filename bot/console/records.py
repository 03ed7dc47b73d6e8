"""What the console keeps: sessions and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SignInLink:
    """A single-use sign-in link, as read back from its signed token."""

    id: str
    identity: str
    expires_at: datetime
    workspace: str = ""  # where it was asked for; "" from the server or the playground


@dataclass(frozen=True)
class ConsoleSession:
    id: str  # the secret in the cookie; the database keeps only its hash
    identity: str
    expires_at: datetime
    workspace: str = ""  # the visitor's workspace or tenant, whose archive they read


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    done_by: str  # an identity, or "cli"
    action: str  # "signed in", "role granted", ...
    detail: str = ""


@dataclass(frozen=True)
class ThreadKey:
    platform: str
    workspace: str
    channel_id: str
    thread_id: str


@dataclass(frozen=True)
class ThreadSummary:
    key: ThreadKey
    channel_name: str
    topic: str
    region: str
    prompt_id: str
    started_at: datetime
    last_at: datetime
    messages: int
    opening: str  # the first message's text, for threads without a prompt
