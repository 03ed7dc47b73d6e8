from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.clock import from_text, to_text
from bot.model import ChannelRef, MessageRef
from bot.ports import Suggestion, WriteOp
from bot.records import Prompt, PromptPost, Resource
from storage.database import Database

_POST = (
    "prompt_id, topic, platform, workspace, channel_id, channel_name, message_id,"
    " posted_at, posted_by, schedule_id"
)


class SqlitePromptRepository:
    """Prompts facilitators added, every prompt posted, and suggestions from staff."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, prompt: Prompt, at: datetime) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "insert or ignore into custom_prompts (id, topic, title, text, follow_ups,"
                " facilitator_note, content_note, resources, added_by, added_at)"
                " values (?,?,?,?,?,?,?,?,?,?)",
                [
                    prompt.id,
                    prompt.topic,
                    prompt.title,
                    prompt.text,
                    json.dumps(list(prompt.follow_ups)),
                    prompt.facilitator_note,
                    prompt.content_note,
                    json.dumps([[r.title, r.url] for r in prompt.resources]),
                    prompt.added_by,
                    to_text(at),
                ],
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def remove(self, prompt_id: str) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            return bool(db.execute("delete from custom_prompts where id = ?", [prompt_id]).rowcount)

        return await self._db.write(op)

    async def added(self) -> list[Prompt]:
        def op(db: sqlite_utils.Database) -> list[Prompt]:
            rows = db.execute(
                "select id, topic, title, text, follow_ups, facilitator_note, content_note,"
                " resources, added_by from custom_prompts order by added_at, id"
            ).fetchall()
            return [_prompt(r) for r in rows]

        return await self._db.read(op)

    def recording(self, post: PromptPost, job_key: str | None = None) -> WriteOp:
        """The write that records a post; the scheduler commits it with the job."""
        m = post.message

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                f"insert into prompt_posts ({_POST}, job_key) values (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    post.prompt_id,
                    post.topic,
                    m.channel.platform,
                    m.channel.workspace,
                    m.channel.id,
                    m.channel.name,
                    m.id,
                    to_text(post.posted_at),
                    post.posted_by,
                    post.schedule_id,
                    job_key,
                ],
            )

        return write

    async def record(self, post: PromptPost) -> None:
        await self._db.write(self.recording(post))

    async def history(self, channel: ChannelRef) -> list[PromptPost]:
        def op(db: sqlite_utils.Database) -> list[PromptPost]:
            rows = db.execute(
                f"select {_POST} from prompt_posts"
                " where platform = ? and workspace = ? and channel_id = ? order by posted_at, id",
                [channel.platform, channel.workspace, channel.id],
            ).fetchall()
            return [_post(r) for r in rows]

        return await self._db.read(op)

    async def recent(self, platform: str, limit: int) -> list[PromptPost]:
        def op(db: sqlite_utils.Database) -> list[PromptPost]:
            rows = db.execute(
                f"select {_POST} from prompt_posts where platform = ?"
                " order by posted_at desc, id desc limit ?",
                [platform, limit],
            ).fetchall()
            return [_post(r) for r in rows]

        return await self._db.read(op)

    async def post_for(self, message: MessageRef) -> PromptPost | None:
        c = message.channel

        def op(db: sqlite_utils.Database) -> PromptPost | None:
            row = db.execute(
                f"select {_POST} from prompt_posts where platform = ? and workspace = ?"
                " and channel_id = ? and message_id = ?",
                [c.platform, c.workspace, c.id, message.id],
            ).fetchone()
            return _post(row) if row else None

        return await self._db.read(op)

    async def suggest(self, suggestion: Suggestion) -> None:
        await self._db.execute(
            "insert into prompt_suggestions (topic, text, suggested_by, suggested_at)"
            " values (?, ?, ?, ?)",
            [suggestion.topic, suggestion.text, suggestion.by, to_text(suggestion.at)],
        )

    async def erase_suggestions(self, identity: str) -> int:
        return await self._db.write(
            lambda db: (
                db.execute(
                    "delete from prompt_suggestions where suggested_by = ?", [identity]
                ).rowcount
            )
        )

    async def forget_person(self, identity: str) -> int:
        """Prompts they added and posted stay (they are the community's); who did it goes."""

        def op(db: sqlite_utils.Database) -> int:
            added = db.execute(
                "update custom_prompts set added_by = '' where added_by = ?", [identity]
            ).rowcount
            posted = db.execute(
                "update prompt_posts set posted_by = '' where posted_by = ?", [identity]
            ).rowcount
            return int(added + posted)

        return await self._db.write(op)

    async def suggestions(self, limit: int) -> list[Suggestion]:
        def op(db: sqlite_utils.Database) -> list[Suggestion]:
            rows = db.execute(
                "select topic, text, suggested_by, suggested_at from prompt_suggestions"
                " order by id desc limit ?",
                [limit],
            ).fetchall()
            return [Suggestion(r[0], r[1], r[2], from_text(r[3])) for r in rows]

        return await self._db.read(op)


def _prompt(row: tuple[Any, ...]) -> Prompt:
    ident, topic, title, text, follow_ups, note, content_note, resources, added_by = row
    return Prompt(
        ident,
        topic,
        title,
        text,
        tuple(json.loads(follow_ups)),
        note,
        content_note,
        tuple(Resource(t, u) for t, u in json.loads(resources)),
        added_by,
        added=True,
    )


def _post(row: tuple[Any, ...]) -> PromptPost:
    prompt_id, topic, platform, workspace, channel_id, name, message_id, at, by, sched = row
    channel = ChannelRef(platform, channel_id, workspace, name)
    return PromptPost(prompt_id, topic, MessageRef(channel, message_id), from_text(at), by, sched)
