"""Anonymous replies in a prompt's thread.

The "Reply anonymously" button on a prompt opens an anonymous form (the adapter drops the
person before the submission exists). Its context names the thread, never the person. The
reply is posted as "Anonymous participant" after a random delay, by a persistent job, so
that someone watching the thread can't tell who just pressed Submit; the job's payload
holds the words and the thread only, and is emptied when the reply is posted and archived
(flagged anonymous, with no author) in the same transaction (docs/anonymity.md).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from datetime import timedelta
from typing import Any, Protocol

from bot.archive_ports import ArchiveRepository, ThreadSource
from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import (
    Button,
    ButtonPressed,
    Buttons,
    ChannelRef,
    Context,
    Form,
    FormSubmitted,
    LongText,
    MessageRef,
    OutgoingMessage,
    Role,
    Text,
    too_long,
)
from bot.ports import ChannelRepository, Clock, WriteOp
from bot.records import ArchivedMessage, Job
from bot.registry import Registry
from bot.scheduler import JobKind, Outcome, Scheduler
from bot.signing import Expired, Signer
from bot.visibility import Visibility

log = logging.getLogger(__name__)

REPLY = "prompt.reply-anonymously"
REMOVE = "anonymous.remove"
REPLY_FORM = "anonymous-reply"
POST_JOB = "anonymous.reply"
FIELD = "text"
MAX_TEXT = 3000
# How long a form's signed context is honoured: a form left open over lunch still works,
# but one copied out of a platform's payload can't be replayed into the thread for ever.
FORM_LIFETIME = timedelta(hours=6)
AUTHOR = "Anonymous participant"

ANONYMOUS = "Your reply is anonymous: nobody, admins included, can see who wrote it."
CANNOT_HIDE = (
    "What copbot cannot hide: the chat platform itself sees that you opened and sent this "
    "form, and carries what you send, with your name, to copbot (which drops your name before "
    "keeping anything); in a small group, what you write may show who you are; and if you "
    "write your name, you are named. Facilitators can remove an anonymous reply."
)
# Every reply under a prompt is archived; this one names nobody, so an opt-out can't reach it.
ARCHIVED = (
    "Like every reply under a prompt, it is kept in the discussion archive, without your "
    "name: people can find it with search, and it is in admins' exports. That holds even if "
    "you have opted out of the archive, since nothing says it is yours."
)
OFF = "Anonymous replies are switched off in this channel, so this button does nothing here."
NOT_HERE = (
    "This form no longer points at a prompt's thread copbot knows. Please press "
    "“Reply anonymously” under the prompt again."
)
ALTERED = (
    "This form didn't reach copbot as copbot made it, so nothing was posted. Please press "
    "“Reply anonymously” under the prompt again."
)
EXPIRED = "This form has been open too long; press Reply anonymously again."
EMPTY = "Write your reply before sending it."
NOT_REMOVABLE = "That isn't an anonymous reply copbot can remove (it may be gone already)."
NO_LINK = "Give the link to the anonymous reply: copy it from the reply's own menu (Copy link)."
UNREADABLE = (
    "I can't read that as a link to a message copbot can reach, so nothing was removed. "
    "Copy the link from the anonymous reply's own menu (Copy link) and try again."
)
NOT_ANONYMOUS = (
    "That link points at a message that isn't an anonymous reply, so nothing was removed. "
    "Only anonymous replies can be removed this way; people can delete their own messages."
)
REMOVED = "Removed that anonymous reply from the thread and from the archive."


class AnonymousReplyRepository(Protocol):
    async def is_off(self, channel: ChannelRef) -> bool: ...

    async def switch(self, channel: ChannelRef, on: bool) -> bool:
        """False when it was that way already."""
        ...

    def archiving(self, message: ArchivedMessage) -> WriteOp: ...

    def forgetting(self, job_id: int) -> WriteOp:
        """Forget a finished job whole: nothing of it lines a post up with a submission."""
        ...

    async def forget_traces(self) -> None: ...


class AnonymousRepliesFeature:
    def __init__(
        self,
        repository: AnonymousReplyRepository,
        archive: ArchiveRepository,
        threads: ThreadSource,
        channels: ChannelRepository,
        visibility: Visibility,
        chat: Chat,
        clock: Clock,
        scheduler: Scheduler,
        delay: timedelta,
        signer: Signer,
        rng: random.Random | None = None,
    ) -> None:
        self._repo = repository
        self._archive = archive
        self._threads = threads
        self._channels = channels
        self._visibility = visibility
        self._chat = chat
        self._clock = clock
        self._scheduler = scheduler
        self._delay = delay
        # The thread a form replies to comes back from the platform: signed, so that a
        # submission can't be pointed at a thread its sender was never shown.
        self._signer = signer
        # The OS's randomness by default: a seeded generator would let the delay be guessed.
        self._rng = rng or secrets.SystemRandom()

    def register(self, registry: Registry) -> None:
        registry.action(REPLY, self.open_reply, private=True)
        registry.form(REPLY_FORM, self.replied, anonymous=True, check=self.check_reply)
        registry.action(REMOVE, self.remove, role=Role.FACILITATOR)
        registry.verb(
            "remove",
            "Remove an anonymous reply from its thread and the archive, given its link",
            self.remove_by_link,
            usage="LINK",
            role=Role.FACILITATOR,
            details="Copy the link from the reply's own menu (Copy link). Only anonymous "
            "replies can be removed this way.",
            raw=True,
        )
        # Late is better than lost: a reply queued before a restart is still posted. Posted,
        # dropped, failed or interrupted, its job is forgotten whole as it closes.
        registry.job(
            JobKind(
                POST_JOB, self._post, run_late=True, forget=self._repo.forgetting, at_most_once=True
            )
        )
        registry.verb(
            "anonymous off",
            "Switch off anonymous replies under prompts in this channel",
            self.switch_off,
            role=Role.ADMIN,
        )
        registry.verb(
            "anonymous on",
            "Switch anonymous replies under prompts back on in this channel",
            self.switch_on,
            role=Role.ADMIN,
        )

    # -- writers ------------------------------------------------------------------------

    async def open_reply(self, ix: Interaction, event: ButtonPressed) -> None:
        # The press, with who pressed, was in the inbox until a moment ago: fold the
        # write-ahead log so that its frames leave the disk too, whatever the answer.
        await self._repo.forget_traces()
        root = _root(event.message)
        if root is None or await self._threads.thread_context(root) is None:
            await ix.reply(NOT_HERE)
            return
        if await self._repo.is_off(root.channel):
            await ix.reply(OFF)
            return
        await ix.open_form(reply_form(root, self._delay, self._signer))

    async def check_reply(self, event: FormSubmitted) -> dict[str, str]:
        """While the platform waits: a problem keeps the form open; nothing is stored."""
        problem = await self._problem(event)
        return {FIELD: problem} if problem else {}

    async def _problem(self, event: FormSubmitted, *, fresh: bool = True) -> str:
        try:
            thread = self._signer.unsign(event.context, FORM_LIFETIME if fresh else None)
        except Expired:
            return EXPIRED
        if thread is None:
            return ALTERED
        root = decode_thread(thread)
        if root is None or await self._threads.thread_context(root) is None:
            return NOT_HERE
        if await self._repo.is_off(root.channel):
            return OFF
        return text_problem(event.value(FIELD))

    async def replied(self, ix: Interaction, event: FormSubmitted) -> None:
        try:
            await self._queue(event)
        finally:
            # The submission, words and all, was in the inbox until a moment ago: its
            # frames leave the write-ahead log whether it was queued or refused.
            await self._repo.forget_traces()

    async def _queue(self, event: FormSubmitted) -> None:
        # The check passed a moment ago; if something changed since, there is nobody to
        # tell (the sender is anonymous), and nothing is logged that could point at them.
        thread = self._signer.unsign(event.context)
        root = decode_thread(thread) if thread is not None else None
        # Its age was checked while the writer waited; a restart in between doesn't lose it.
        if root is None or await self._problem(event, fresh=False):
            return
        wait = timedelta(seconds=self._rng.uniform(0, self._delay.total_seconds()))
        await self._scheduler.once(
            POST_JOB,
            {
                "platform": root.channel.platform,
                "workspace": root.channel.workspace,
                "channel": root.channel.id,
                "root": root.id,
                "text": event.value(FIELD).strip(),
            },
            self._clock.now() + wait,
            # Random, not derived from the submission: nothing in the key lines it up.
            f"anonymous-reply:{secrets.token_hex(16)}",
        )

    async def _post(self, job: Job) -> Outcome | None:
        doc = _payload(job)
        channel = ChannelRef(str(doc["platform"]), str(doc["channel"]), str(doc["workspace"]))
        root = MessageRef(channel, str(doc["root"]))
        context = await self._threads.thread_context(root)
        if context is None or await self._repo.is_off(channel):
            return None  # switched off meanwhile: dropped (and forgotten, as every such job)
        text = str(doc["text"])
        ref = await self._chat.reply(root.as_thread, reply_message(text))
        known = await self._channels.get(channel)
        message = ArchivedMessage(
            platform=channel.platform,
            workspace=channel.workspace,
            channel_id=channel.id,
            channel_name=known.ref.name if known else "",
            thread_id=root.id,
            message_id=ref.id,
            author_id="",
            author_name=AUTHOR,
            anonymous=True,
            text=text,
            created_at=self._clock.now(),
            prompt_id=context.prompt_id,
            topic=context.topic,
            region=known.region if known else "",
            private=await self._visibility.is_private(channel, known),
        )
        # Archived with the job's completion (which forgets the job), in one transaction:
        # copbot's own posts are not captured from the platform, so this is the only copy.
        return Outcome(also=(self._repo.archiving(message),))

    # -- facilitators and admins --------------------------------------------------------

    async def remove(self, ix: Interaction, event: ButtonPressed) -> None:
        ref = event.message
        kept = await self._archive.get(ref) if ref else None
        if ref is None or kept is None or not kept.anonymous:
            await ix.reply(NOT_REMOVABLE)
            return
        await self._chat.delete(ref)
        await self._archive.delete(ref)
        await ix.reply(REMOVED)

    async def remove_by_link(self, ix: Interaction, args: Args) -> None:
        # Teams writes a pasted link as "label (url)": the link is the word that is a URL
        # (or a path, from a playground whose address isn't configured).
        links = [w.strip("()") for w in args.words if "://" in w or w.startswith("/?")]
        if not links:
            raise UsageError(NO_LINK if not args else UNREADABLE)
        ref = self._chat.message_at(links[-1])
        if ref is None:
            raise CommandError(UNREADABLE)
        # A private channel's replies are removed only by its members: to anyone else the
        # link says no more than a link to nothing would.
        visible = ref.channel.platform == ix.user.platform and await self._visibility.may_see(
            ix.user, ref.channel
        )
        kept = await self._archive.get(ref) if visible else None
        if kept is None or not kept.anonymous:
            raise CommandError(NOT_ANONYMOUS)
        await self._chat.delete(ref)
        await self._archive.delete(ref)
        await ix.reply(REMOVED)

    async def switch_off(self, ix: Interaction, args: Args) -> None:
        channel = self._here(ix, args)
        if not await self._repo.switch(channel, on=False):
            await ix.reply("Anonymous replies are off in this channel already.")
            return
        await ix.reply(
            "Done: the “Reply anonymously” button under prompts here now says they are off. "
            f"`{ix.prefix} anonymous on` switches them back on."
        )

    async def switch_on(self, ix: Interaction, args: Args) -> None:
        channel = self._here(ix, args)
        if not await self._repo.switch(channel, on=True):
            await ix.reply("Anonymous replies are on in this channel already.")
            return
        await ix.reply("Done: people can reply anonymously under prompts here again.")

    def _here(self, ix: Interaction, args: Args) -> ChannelRef:
        if args:
            raise UsageError(f"`{ix.prefix} anonymous off` and `on` take nothing after them.")
        if ix.origin.channel.is_direct:
            raise CommandError("Run this in the channel you mean.")
        return ix.origin.channel


def reply_form(root: MessageRef, delay: timedelta, signer: Signer) -> Form:
    return Form(
        REPLY_FORM,
        "Reply anonymously",
        (LongText(FIELD, "Your reply", max_length=MAX_TEXT),),
        submit_label="Send anonymously",
        intro=f"{ANONYMOUS} It appears in the thread as “{AUTHOR}”.\n{ARCHIVED}\n{CANNOT_HIDE}",
        context=signer.sign(encode_thread(root)),
        anonymous=True,
        thanks=thanks(delay),
    )


def thanks(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    if seconds <= 0:
        when = "in a moment"
    elif seconds < 120:
        when = f"within {seconds} seconds, at a random moment"
    else:
        when = f"within {seconds // 60} minutes, at a random moment"
    return (
        f"Thank you. Your reply will appear in the thread as “{AUTHOR}” {when}, so that "
        "nobody watching can tell who sent it."
    )


def reply_message(text: str) -> OutgoingMessage:
    return OutgoingMessage(
        (
            Text(f"**{AUTHOR}**"),
            # Their words as written: a link or bold in them must not speak in copbot's voice.
            Text(escape(text)),
            Context("Posted anonymously through copbot. Facilitators can remove it."),
            Buttons((Button(REMOVE, "Remove"),)),
        ),
        fallback=f"{AUTHOR}: {text[:150]}",
    )


def text_problem(text: str) -> str:
    text = text.strip()
    if not text:
        return EMPTY
    if len(text) > MAX_TEXT:
        return too_long(text, MAX_TEXT)
    return ""


def encode_thread(root: MessageRef) -> str:
    c = root.channel
    return json.dumps([c.platform, c.workspace, c.id, root.id], separators=(",", ":"))


def decode_thread(context: str) -> MessageRef | None:
    """The prompt the form was opened under, or None for anything else."""
    try:
        doc = json.loads(context)
    except ValueError:
        return None
    if not (isinstance(doc, list) and len(doc) == 4):
        return None
    if not all(isinstance(p, str) and len(p) <= 200 for p in doc):
        return None
    platform, workspace, channel, root = doc
    if not (platform and channel and root):
        return None
    return MessageRef(ChannelRef(platform, channel, workspace), root)


def _root(message: MessageRef | None) -> MessageRef | None:
    """The root of the thread a button was pressed in (the prompt post itself)."""
    if message is None:
        return None
    return MessageRef(message.channel, message.thread_root or message.id)


def _payload(job: Job) -> dict[str, Any]:
    doc = json.loads(job.payload)
    return doc if isinstance(doc, dict) else {}
