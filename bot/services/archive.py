"""The discussion archive in chat: capture with consent, in step with edits and deletes;
opting out and in; channels opting in; search; and the retention purge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.archive_ports import ArchiveRepository, ThreadSource
from bot.chat import Chat, PlatformUnavailable
from bot.commands import Args, CommandError, UsageError, clip
from bot.interaction import Interaction
from bot.markup import escape, isolated, kept_text
from bot.model import (
    Channel,
    ChannelVisibilityChanged,
    Context,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    OutgoingMessage,
    Role,
    Text,
    UserRef,
)
from bot.ports import ChannelRepository, Clock
from bot.ranking import HIT_END, HIT_START
from bot.records import ArchivedMessage, ArchiveFilter, Job, SearchHit, ThreadContext
from bot.registry import PersonalData, Registry
from bot.scheduler import JobKind, Outcome, Scheduler
from bot.search_query import parse_terms
from bot.services.erasure import Erasure
from bot.timefmt import for_people
from bot.visibility import Visibility

RETENTION = "archive.retention"
ARCHIVED = "archived message(s)"
SEARCH_RESULTS = 5

THREAD_NOTICE = (
    "Replies here are kept in the community archive (`{prefix} optout` to leave yours out)."
)


class ArchiveFeature:
    def __init__(
        self,
        archive: ArchiveRepository,
        channels: ChannelRepository,
        thread_sources: Sequence[ThreadSource],
        chat: Chat,
        clock: Clock,
        scheduler: Scheduler,
        retention_days: int | None,
        erasure: Erasure,
        visibility: Visibility | None = None,
    ) -> None:
        self._archive = archive
        self._visibility = visibility or Visibility(chat, channels, archive, clock)
        self._erasure = erasure
        self._channels = channels
        self._sources = tuple(thread_sources)
        self._chat = chat
        self._clock = clock
        self._scheduler = scheduler
        self._retention_days = retention_days

    def register(self, registry: Registry) -> None:
        registry.job(JobKind(RETENTION, self._purge, run_late=True))
        registry.on_start(self.schedule_retention)
        registry.keeps(
            PersonalData(
                ARCHIVED,
                (
                    "archive_entries.author",
                    "archive_authors.author_id",
                    "archive_authors.author_name",
                ),
                erase=self._archive.erase_author,
                expire=self._archive.purge_before,
                on_opt_out=True,
                notice="Your messages in the archive, as above.",
            )
        )
        registry.keeps(
            PersonalData(
                "opt-outs",
                ("archive_optouts.identity",),
                kept_because=(
                    "it is how copbot remembers to keep nothing of theirs, or, once they opt "
                    "in again, nothing they wrote before"
                ),
                notice="Whether you opted out of the archive, and since when.",
            )
        )
        registry.listen(MessagePosted, self.on_posted)
        registry.listen(MessageEdited, self.on_edited)
        registry.listen(MessageDeleted, self.on_deleted)
        registry.listen(ChannelVisibilityChanged, self.on_visibility_changed)
        registry.verb(
            "search",
            "Search the archive of discussions (only you see the results)",
            self.search,
            usage="WORDS",
            raw=True,
            details=(
                'Put "words in quotes" for a phrase, and end a word with * to match its '
                "beginning, like `recruit*`."
            ),
        )
        registry.verb(
            "optout",
            "Stop copbot keeping your messages, and erase what it kept",
            self.opt_out,
        )
        registry.verb(
            "optin",
            "Let copbot keep your messages in the archive again",
            self.opt_in,
            in_turn=True,  # what they wrote while opted out is not kept: see bot.inbox
        )
        registry.verb("archive", "Say what copbot keeps from this channel", self.status)
        registry.verb(
            "archive on",
            "Keep every message in this channel in the archive",
            self.channel_on,
            role=Role.ADMIN,
            in_turn=True,  # what was written before is not kept: see bot.inbox
        )
        registry.verb(
            "archive off",
            "Stop keeping this channel's messages (prompt threads are still kept)",
            self.channel_off,
            role=Role.ADMIN,
            in_turn=True,  # what was written before is still kept: see bot.inbox
        )

    # -- capture ------------------------------------------------------------------------

    async def on_posted(self, event: MessagePosted) -> None:
        if event.from_bot or event.is_direct:
            return
        message = await self._kept_as(event.message, event.author, event.text, event.at)
        if message is not None:
            # Leaves out people who opted out, checking in the same transaction; held, inside
            # an inbox batch, to be committed with the batch's other messages.
            await self._archive.record(message)

    async def _kept_as(
        self, ref: MessageRef, author: UserRef, text: str, at: datetime
    ) -> ArchivedMessage | None:
        """The message as the archive would keep it, or None when it keeps nothing of this
        channel or thread."""
        root = ref.thread
        # One after the other, not gathered: both are nearly always remembered, and a
        # gather's tasks would cost the inbox a turn of the event loop per message.
        channel = await self._channels.get(ref.channel)
        context = await self._context(MessageRef(ref.channel, root.root_id)) if root else None
        if context is None and not (channel and channel.archive):
            return None
        private = await self._visibility.is_private(ref.channel, channel)
        return ArchivedMessage(
            platform=ref.channel.platform,
            workspace=ref.channel.workspace,
            channel_id=ref.channel.id,
            channel_name=ref.channel.name or (channel.ref.name if channel else ""),
            thread_id=root.root_id if root else ref.id,
            message_id=ref.id,
            author_id=author.identity,
            author_name=author.display,
            anonymous=False,
            text=kept_text(text),
            created_at=at,
            prompt_id=context.prompt_id if context else "",
            topic=context.topic if context else "",
            region=channel.region if channel else "",
            private=private,
        )

    async def _context(self, root: MessageRef) -> ThreadContext | None:
        for source in self._sources:
            if (context := await source.thread_context(root)) is not None:
                return context
        return None

    async def on_edited(self, event: MessageEdited) -> None:
        # The message as edited, for the archive to keep should the edit come before the
        # message itself (a platform's retry after an outage): the late original would
        # otherwise bring back words its author took out.
        edited = None
        if event.posted_by and event.posted_at and not event.message.channel.is_direct:
            kept = await self._kept_as(event.message, event.posted_by, event.text, event.posted_at)
            edited = replace(kept, edited_at=event.at, edit_count=1) if kept else None
        await self._archive.record_edit(event.message, kept_text(event.text), event.at, edited)

    async def on_visibility_changed(self, event: ChannelVisibilityChanged) -> None:
        await self._visibility.changed(event.channel, event.private)

    async def on_deleted(self, event: MessageDeleted) -> None:
        await self._archive.record_delete(event.message)

    # -- consent ------------------------------------------------------------------------

    async def opt_out(self, ix: Interaction, args: Args) -> None:
        identity = ix.user.identity
        already = await self._archive.opted_out(identity)
        # What they did on purpose stays (an event answer, a suggestion): see on_opt_out.
        erased = (await self._erasure.erase(identity, opting_out=True)).of(ARCHIVED)
        kept = (
            f"I've erased the {erased} message{'s' if erased != 1 else ''} of yours I had kept"
            if erased
            else "I had kept none of your messages"
        )
        if already and not erased:
            await ix.reply(
                "You've already opted out: I keep nothing you write. "
                f"`{ix.prefix} optin` changes that."
            )
            return
        await ix.reply(
            f"Done. {kept}, and I won't keep what you write from now on. Your messages stay "
            f"in the chat itself. If you change your mind, `{ix.prefix} optin`."
        )

    async def opt_in(self, ix: Interaction, args: Args) -> None:
        if not await self._archive.opt_in(ix.user.identity, ix.at or self._clock.now()):
            await ix.reply("You're opted in already: what you write in prompt threads is kept.")
            return
        await ix.reply(
            "Thank you. From now on what you write in prompt threads (and in channels that "
            "keep an archive) is kept again. Nothing from before comes back."
        )

    async def status(self, ix: Interaction, args: Args) -> None:
        if args:
            raise UsageError(f"Did you mean `{ix.prefix} archive on` or `{ix.prefix} archive off`?")
        channel = await self._channels.get(ix.origin.channel)
        if ix.origin.channel.is_direct:
            here = "I never keep direct messages."
        elif channel and channel.archive and not channel.bot_member:
            # Slack's slash commands reach copbot in a channel it has been removed from.
            here = (
                "I'm not in this channel now, so I'm keeping none of its messages; if I'm "
                "added back, I'll keep every message again, unless an admin types "
                f"`{ix.prefix} archive off` here first."
            )
        elif channel and channel.archive:
            here = "I keep every message in this channel in the community archive."
        else:
            here = (
                "In this channel I keep only the replies in threads under my prompts, not "
                "the rest of the conversation."
            )
        yours = (
            "You've opted out, so I keep nothing you write."
            if await self._archive.opted_out(ix.user.identity)
            else f"Your messages are kept where I keep messages; `{ix.prefix} optout` stops that."
        )
        await ix.reply(f"{here} {yours} Admins can export the archive.")

    async def channel_on(self, ix: Interaction, args: Args) -> None:
        channel = await self._channel_here(
            ix,
            "I'm not in this channel, so I can't keep its messages. Add me to it first "
            f"({ix.how_to_add}), then try again.",
        )
        if channel.archive:
            await ix.reply("This channel is kept in the archive already.")
            return
        await self._channels.save(_with_archive(channel, True))
        await self._chat.post(
            channel.ref,
            OutgoingMessage.of(
                "From now on I'll keep the messages in this channel in the community's "
                "archive, so the conversation can be found and shared later. Admins can "
                "export it, for example to the community's shared space.",
                f"If you'd rather yours weren't kept, type `{ix.prefix} optout`: I'll also "
                "erase what I've kept of yours. Edits and deletions here are followed.",
            ),
        )
        await ix.reply(
            f"Done: {channel.ref.label} is now kept in the archive, and I've said so there."
        )

    async def channel_off(self, ix: Interaction, args: Args) -> None:
        known = await self._channels.get(ix.origin.channel)
        if known is not None and known.archive and not known.bot_member:
            # Kept while copbot was there, then it was removed: switched off now, or it
            # would start keeping every message again the day it is added back.
            await self._channels.save(_with_archive(known, False))
            await ix.reply(
                f"Done: {known.ref.label} is no longer kept in the archive, and won't be if "
                "I'm added to it again. (I'm not in it now, so I haven't posted there.)"
            )
            return
        channel = await self._channel_here(
            ix, "I'm not in this channel, so I'm not keeping any of its messages now."
        )
        if not channel.archive:
            await ix.reply("This channel isn't being kept in the archive (beyond prompt threads).")
            return
        await self._channels.save(_with_archive(channel, False))
        await self._chat.post(
            channel.ref,
            OutgoingMessage.of(
                "I've stopped keeping this channel's messages in the archive. Replies under "
                "my prompts are still kept, and what was kept before stays unless people "
                f"opt out (`{ix.prefix} optout`)."
            ),
        )
        await ix.reply(f"Done: {channel.ref.label} is no longer kept in the archive.")

    async def _channel_here(self, ix: Interaction, not_in: str) -> Channel:
        if ix.origin.channel.is_direct:
            raise CommandError("Run this in the channel you mean; direct messages are never kept.")
        channel = await self._channels.get(ix.origin.channel)
        if channel is None or not channel.bot_member:
            raise CommandError(not_in)
        return channel

    # -- search ---------------------------------------------------------------------------

    async def search(self, ix: Interaction, args: Args) -> None:
        terms = parse_terms(args.raw)
        if not terms:
            raise UsageError(f"Give me a word or two to look for, like `{ix.prefix} search bias`.")
        # What someone's own community wrote: not other workspaces, nor other platforms.
        # Private channels' messages only for their members, as the platform says.
        here = ix.origin.channel
        view = await self._visibility.view_of(ix.user)
        scope = ArchiveFilter(
            workspace=(here.platform, here.workspace), viewer_channels=view.channels
        )
        hits = await self._archive.search(terms, scope, SEARCH_RESULTS)
        if not hits:
            await ix.reply(
                # As typed, escaped once for the markup: a repr doubled the backslashes
                # escaping adds, so `recruit*` came back as `recruit\*`.
                f"Nothing in the archive matches '{escape(clip(args.raw, 80))}'. Try fewer "
                "words, or the start of a word with * (like `recruit*`)."
                + (f"\n{view.note}" if view.note else "")
            )
            return
        # Each result's link is a round trip to the platform: asked for all at once.
        results = await asyncio.gather(*(self._result(hit) for hit in hits))
        top = "The best match" if len(hits) == 1 else f"Top {len(hits)}"
        blocks: list[Text | Context] = [Text(f"**{top} from the archive**")]
        blocks.extend(Text(result) for result in results)
        if view.note:
            blocks.append(Context(view.note))
        blocks.append(Context("Only you can see these results."))
        await ix.reply(OutgoingMessage(tuple(blocks)))

    async def _result(self, hit: SearchHit) -> str:
        m = hit.message
        where = f"#{m.channel_name}" if m.channel_name else m.channel_id
        who = "Anonymous" if m.anonymous else (m.author_name or m.author_id)
        when = for_people(m.created_at, self._scheduler.timezone, time=False)
        try:
            link = await self._chat.permalink(m.ref)
        except PlatformUnavailable:
            link = ""  # history imported from a platform copbot isn't connected to now
        # Named for its message: a screen reader lists links by name, and ten "open"s
        # would say nothing of which is which.
        named = "the anonymous reply" if m.anonymous else f"{isolated(who)}'s message"
        opened = (
            f" · [open {escape(named)}]({link})" if link.startswith(("https://", "http://")) else ""
        )
        snippet = isolated(escape(hit.snippet)).replace(HIT_START, "**").replace(HIT_END, "**")
        return (
            f"**{escape(isolated(where))}** · {escape(isolated(who))} · {when}{opened}\n{snippet}"
        )

    # -- retention ------------------------------------------------------------------------

    async def schedule_retention(self) -> None:
        """Keep one daily purge job in step with COPBOT_RETENTION_DAYS."""
        existing = await self._scheduler.recurrences(RETENTION)
        wanted = self._retention_days
        for recurrence in existing:
            if wanted is None or json.loads(recurrence.payload).get("days") != wanted:
                await self._scheduler.cancel(recurrence.id)
        if wanted is not None and not any(
            json.loads(r.payload).get("days") == wanted for r in existing
        ):
            await self._scheduler.repeat(
                RETENTION,
                {"days": wanted},
                "FREQ=DAILY;BYHOUR=3;BYMINUTE=30;BYSECOND=0",
                owner="",
                description=f"erase archived messages older than {wanted} days",
            )

    async def _purge(self, job: Job) -> Outcome:
        days = int(json.loads(job.payload)["days"])
        await self._erasure.expire(self._clock.now() - timedelta(days=days))
        return Outcome()


def _with_archive(channel: Channel, on: bool) -> Channel:
    return replace(channel, archive=on)
