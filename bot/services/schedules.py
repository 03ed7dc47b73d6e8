"""Prompts on a schedule: "/cop schedule prompt any every tuesday at 10:00 in #north"."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from bot import codec
from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError, clip, did_you_mean, parse_number
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import ChannelRef, Context, OutgoingMessage, Role, Text, UserRef
from bot.people import People
from bot.ports import ChannelRepository, Clock, DeliveryError, PromptRepository
from bot.records import Job, JobState, Prompt, PromptPost, Recurrence
from bot.registry import Registry
from bot.router import RoleLookup
from bot.schedule_grammar import ScheduleRequest, parse_schedule
from bot.schedule_notices import trouble_words
from bot.scheduler import (
    JobError,
    JobKind,
    Outcome,
    Scheduler,
    first_due,
    next_occurrence,
)
from bot.services.prompts import PromptCatalogue, PromptPublisher, facilitator_note
from bot.timefmt import for_people
from bot.visibility import Visibility

log = logging.getLogger(__name__)

POST_PROMPT = "prompt.post"


class SchedulesFeature:
    def __init__(
        self,
        scheduler: Scheduler,
        catalogue: PromptCatalogue,
        publisher: PromptPublisher,
        prompts: PromptRepository,
        channels: ChannelRepository,
        chat: Chat,
        clock: Clock,
        people: People | None = None,
        visibility: Visibility | None = None,
        roles: RoleLookup | None = None,
    ) -> None:
        self._people = people
        self._roles = roles
        self._visibility = visibility
        self._scheduler = scheduler
        self._catalogue = catalogue
        self._publisher = publisher
        self._prompts = prompts
        self._channels = channels
        self._chat = chat
        self._clock = clock

    @property
    def _tz(self) -> ZoneInfo:
        return self._scheduler.timezone

    def register(self, registry: Registry) -> None:
        registry.job(JobKind(POST_PROMPT, self._run, self._trouble, at_most_once=True))
        registry.verb(
            "schedule prompt",
            "Post prompts on a regular day and time",
            self.schedule_verb,
            usage="TOPIC|any every DAYS at HH:MM [in #channel]",
            role=Role.FACILITATOR,
            details=(
                "For example: `schedule prompt language every tuesday at 10:00`, "
                "`schedule prompt any every mon and thu at 9:30 in #north`, or "
                "`schedule prompt any every other friday at 2pm`. The days can be `weekday` "
                "or `day`. Times are "
                f"{self._tz.key} time, and stay so when the clocks change."
            ),
        )
        registry.verb(
            "schedule list", "List scheduled prompts", self.list_verb, role=Role.FACILITATOR
        )
        registry.verb(
            "schedule cancel",
            "Stop a scheduled prompt",
            self.cancel_verb,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "schedule pause",
            "Pause a scheduled prompt, keeping it to resume later",
            self.pause_verb,
            usage="ID",
            role=Role.FACILITATOR,
            details=(
                "Nothing is posted while a schedule is paused, for a break or a holiday. "
                "`schedule resume ID` starts it again from the next time due, without "
                "posting the prompts it skipped."
            ),
        )
        registry.verb(
            "schedule resume",
            "Start a paused scheduled prompt again",
            self.resume_verb,
            usage="ID",
            role=Role.FACILITATOR,
        )

    # -- chat -------------------------------------------------------------------

    async def schedule_verb(self, ix: Interaction, args: Args) -> None:
        here = None if ix.origin.channel.is_direct else ix.origin.channel
        await ix.reply(
            await self.schedule(
                args.words,
                ix.origin.channel.platform,
                here,
                ix.user.identity,
                viewer=ix.user,
                prefix=ix.prefix,
            )
        )

    async def list_verb(self, ix: Interaction, args: Args) -> None:
        lines = await self.listing(viewer=ix.user)
        left_out = await self.left_out(ix.user)
        if not lines:
            await ix.reply(
                f"No prompts are scheduled. `{ix.prefix} schedule prompt` sets one up; "
                f"`{ix.prefix} help schedule` shows how." + (f"\n{left_out}" if left_out else "")
            )
            return
        await ix.reply(
            OutgoingMessage(
                (
                    Text("**Scheduled prompts**"),
                    Text("\n".join(lines)),
                    Context(
                        f"Pause one with `{ix.prefix} schedule pause ID` (and start it again "
                        f"with `{ix.prefix} schedule resume ID`), or stop it for good with "
                        f"`{ix.prefix} schedule cancel ID`."
                    ),
                    *((Context(left_out),) if left_out else ()),
                )
            )
        )

    async def cancel_verb(self, ix: Interaction, args: Args) -> None:
        if len(args) != 1:
            raise UsageError("Give the number of the schedule to cancel.")
        await ix.reply(await self.cancel(args.get(0), viewer=ix.user, prefix=ix.prefix))

    async def pause_verb(self, ix: Interaction, args: Args) -> None:
        if len(args) != 1:
            raise UsageError("Give the number of the schedule to pause.")
        await ix.reply(await self.pause(args.get(0), viewer=ix.user, prefix=ix.prefix))

    async def resume_verb(self, ix: Interaction, args: Args) -> None:
        if len(args) != 1:
            raise UsageError("Give the number of the schedule to resume.")
        await ix.reply(await self.resume(args.get(0), viewer=ix.user, prefix=ix.prefix))

    # -- shared with the command line -------------------------------------------------

    async def schedule(
        self,
        words: tuple[str, ...] | list[str],
        platform: str,
        here: ChannelRef | None,
        owner: str,
        viewer: UserRef | None = None,
        *,
        prefix: str,
    ) -> str:
        """Schedule prompts as ``words`` say; returns the confirmation to show. ``viewer``
        (someone in chat) can name only channels they can see on the platform. ``prefix``
        starts the commands the answer names (``/cop`` in chat, ``copbot`` on the command
        line; "" on the console, which has buttons)."""
        request = parse_schedule(words)
        library = await self._catalogue.current()
        topic = None if request.topic == "any" else library.topic(request.topic)
        if request.topic != "any" and topic is None:
            slugs = ", ".join(f"`{t.slug}`" for t in library.topics)
            hint = did_you_mean(request.topic, [t.slug for t in library.topics])
            raise UsageError(
                f"There's no topic `{clip(request.topic)}`.{hint} Use `any` or one of: {slugs}."
            )
        channel = await self._channel(request, platform, here, viewer)
        for existing in await self._scheduler.recurrences(POST_PROMPT):
            payload = json.loads(existing.payload)
            if (
                existing.rule == request.rule
                and payload.get("topic") == (topic.slug if topic else None)
                and codec.from_json(ChannelRef, payload["channel"]) == channel
            ):
                paused = (
                    f" It's paused: {_cmd(prefix, f'schedule resume {existing.id}')} starts it"
                    " again."
                    if existing.paused
                    else ""
                )
                raise CommandError(
                    f"That schedule is set up already: #{existing.id}, "
                    f"{await self._describe(existing)}."
                    f"{paused} {_cmd(prefix, 'schedule list')} shows them all, and "
                    f"{_cmd(prefix, 'schedule cancel')} stops one."
                )
        what = f"a prompt from {topic.title}" if topic else "a prompt from any topic"
        description = f"{what}, {request.when}, in {channel.label}"
        starts = None
        if request.weeks > 1:
            # Counted from its first post, the next of its days: "every other tuesday"
            # said on a Wednesday starts next Tuesday, not the one after.
            now = self._clock.now().astimezone(self._tz).replace(tzinfo=None, microsecond=0)
            starts = next_occurrence(request.weekly.rule, now.replace(second=0), now)
        recurrence = await self._scheduler.repeat(
            POST_PROMPT,
            {"channel": codec.to_json(channel), "topic": topic.slug if topic else None},
            request.rule,
            owner,
            description,
            starts,
        )
        first = self._local(recurrence.next_at)
        return (
            f"Scheduled #{recurrence.id}: {description} ({self._tz.key} time). "
            f"The first will be on {first}."
        )

    async def left_out(self, viewer: UserRef) -> str:
        """What a list of schedules can't show ``viewer`` just now, in words ("" when
        nothing): said whether or not a schedule was hidden, so it tells nothing."""
        if self._visibility is None:
            return ""
        return (await self._visibility.view_of(viewer)).list_note

    async def listing(self, viewer: UserRef | None = None) -> list[str]:
        return [s.line for s in await self.schedules(viewer)]

    async def schedules(self, viewer: UserRef | None = None) -> list[ScheduleLine]:
        """The schedules ``viewer`` may see (everyone's, without a viewer), oldest first."""
        found = [
            r
            for r in await self._scheduler.recurrences(POST_PROMPT)
            if await self._visible(viewer, r.payload)
        ]
        owners = [r.owner for r in found if r.owner]
        names = await self._people.names(owners) if self._people else {}
        return [
            ScheduleLine(
                r.id,
                await self._describe(r),
                self._local(r.next_at),
                names.get(r.owner) or r.owner,
                self._local(r.paused_at) if r.paused_at else "",
            )
            for r in found
        ]

    async def cancel(self, ident: str, viewer: UserRef | None = None, *, prefix: str) -> str:
        recurrence = await self._schedule(ident, viewer, prefix)
        if not await self._scheduler.cancel(recurrence.id):
            raise _no_such(recurrence.id, prefix)
        return f"Cancelled schedule #{recurrence.id}: {await self._describe(recurrence)}."

    async def pause(self, ident: str, viewer: UserRef | None = None, *, prefix: str) -> str:
        recurrence = await self._schedule(ident, viewer, prefix)
        if not await self._scheduler.pause(recurrence.id):
            raise CommandError(
                f"Schedule #{recurrence.id} is paused already. "
                f"{_cmd(prefix, f'schedule resume {recurrence.id}')} starts it again."
            )
        described = await self._describe(recurrence)
        return (
            f"Paused schedule #{recurrence.id}: {described}. Nothing will be "
            f"posted until it's resumed with {_cmd(prefix, f'schedule resume {recurrence.id}')}."
        )

    async def resume(self, ident: str, viewer: UserRef | None = None, *, prefix: str) -> str:
        recurrence = await self._schedule(ident, viewer, prefix)
        channel = _channel_of(recurrence.payload)
        known = await self._channels.get(channel)
        if recurrence.paused and known is not None and not known.bot_member:
            # Resumed there, it would fail again when next due and pause once more.
            where = (await self._now_called(channel)).label
            raise CommandError(
                f"I'm still not in {where}, so schedule #{recurrence.id} would only "
                f"fail again. Add me to it first ({self._chat.how_to_add(channel.platform)}), "
                "then resume it."
            )
        if not await self._scheduler.resume(recurrence.id):
            raise CommandError(
                f"Schedule #{recurrence.id} isn't paused, so there's nothing to resume. "
                f"{_cmd(prefix, f'schedule pause {recurrence.id}')} pauses it."
            )
        again = await self._scheduler.recurrence(recurrence.id)
        described = await self._describe(recurrence)
        return (
            f"Resumed schedule #{recurrence.id}: {described}. The next prompt "
            f"will be on {self._local(again.next_at if again else None)}; the ones skipped "
            "while it was paused won't be posted."
        )

    async def _schedule(self, ident: str, viewer: UserRef | None, prefix: str) -> Recurrence:
        """The active prompt schedule numbered ``ident``, if ``viewer`` may see it."""
        number = parse_number(ident, "a schedule number", f"{prefix} schedule list".strip())
        recurrence = await self._scheduler.recurrence(number)
        if (
            recurrence is None
            or not recurrence.active
            or recurrence.kind != POST_PROMPT
            or not await self._visible(viewer, recurrence.payload)
        ):
            raise _no_such(number, prefix)
        return recurrence

    async def _now_called(self, channel: ChannelRef) -> ChannelRef:
        """``channel`` by the name it has now: a schedule keeps the one it had when it was
        set up, and Slack and Teams channels get renamed. From copbot's own record of its
        channels (read once per process), never by asking the platform."""
        known = await self._channels.get(channel)
        return known.ref if known is not None and known.ref.name else channel

    async def _describe(self, recurrence: Recurrence) -> str:
        """The schedule's description, naming its channel as it is called now."""
        channel = _channel_of(recurrence.payload)
        then, now = f" in {channel.label}", f" in {(await self._now_called(channel)).label}"
        if then == now or not recurrence.description.endswith(then):
            return recurrence.description
        return recurrence.description.removesuffix(then) + now

    async def _visible(self, viewer: UserRef | None, payload: str) -> bool:
        """A schedule in a private channel is, to someone outside it, as if it weren't."""
        if viewer is None or self._visibility is None:
            return True
        return await self._visibility.may_see(viewer, _channel_of(payload))

    async def _channel(
        self,
        request: ScheduleRequest,
        platform: str,
        here: ChannelRef | None,
        viewer: UserRef | None = None,
    ) -> ChannelRef:
        if request.channel is None:
            if here is None:
                raise UsageError("Say which channel, like `in #north`.")
            known = await self._channels.get(here)
            if known is not None and not known.bot_member:
                # A slash command reaches copbot from a channel it has left: a schedule here
                # would fail when it came due. (One copbot has never heard of may still be
                # one it is in, its arrival missed: see RegionsFeature._channel.)
                raise UsageError(
                    "I'm not in this channel, so I couldn't post prompts here. Add me to it "
                    f"first ({self._chat.how_to_add(platform)}), then try "
                    "again, or name a channel I'm in, like `in #north`."
                )
            return here
        wanted = _channel_token(request.channel)
        usable = []
        for found in await self._channels.find(platform, wanted):
            seen = (
                viewer is None
                or self._visibility is None
                or await self._visibility.may_see(viewer, found.ref)
            )
            if found.bot_member and seen:
                usable.append(found.ref)
        if not usable:
            # The same words whichever it is: a private channel stays unseen by outsiders.
            raise UsageError(
                f"I can't post in #{wanted}: it isn't a channel you and I are both in. Check "
                "its name; if it's right, add me to it first "
                f"({self._chat.how_to_add(platform)}), then try again."
            )
        return _one_of(usable, wanted, here)

    # -- the job ----------------------------------------------------------------------

    async def _run(self, job: Job) -> Outcome:
        try:
            return await self._post(job)
        except (JobError, DeliveryError):
            # Refused in words (copbot left, the channel was archived, the topic is gone):
            # it would be refused again each time it came due, so the schedule is paused
            # and its owner told once.
            if job.schedule_id is not None:
                await self._scheduler.pause(job.schedule_id)
            raise

    async def _post(self, job: Job) -> Outcome:
        payload = json.loads(job.payload)
        channel = await self._now_called(_channel_of(job.payload))
        known = await self._channels.get(channel)
        # Only a channel copbot is known to have left: one it never heard of may be one it
        # is in, its arrival missed (as the schedule was taken); the platform says if not.
        if known is not None and not known.bot_member:
            raise JobError(f"I'm no longer in {channel.label}, so I can't post there.")
        try:
            prompt, topic = await self._catalogue.choose(channel, payload["topic"])
        except CommandError as e:
            raise JobError(str(e)) from None
        ref = await self._chat.post(channel, self._publisher.message(prompt, topic, channel))
        post = PromptPost(prompt.id, prompt.topic, ref, self._clock.now(), "", job.schedule_id)
        # The note is for whoever posts a prompt; a schedule's posts are its owner's.
        note = partial(self._send_note, job, prompt, channel) if job.owner else None
        return Outcome(also=(self._prompts.recording(post, job.key),), then=note)

    async def _owner_sees(self, owner: UserRef, channel: ChannelRef) -> bool:
        """Whether the schedule's owner may still hear of ``channel``: one who has left a
        private channel (or whom the platform can't vouch for) is told nothing of it, its
        name or what is posted there, as anyone else outside it."""
        return self._visibility is None or await self._visibility.may_see(owner, channel)

    async def _send_note(self, job: Job, prompt: Prompt, channel: ChannelRef) -> None:
        which = f" (schedule #{job.schedule_id})" if job.schedule_id else ""
        if not await self._owner_sees(UserRef.parse(job.owner), channel):
            log.info("schedule %s: its owner is outside its channel; no note", job.schedule_id)
            return
        # Notes are for facilitators (as `prompt preview` is): an owner whose role was
        # taken away since is not sent them, though the schedule posts on.
        if self._roles is not None and await self._roles.role_of(job.owner) < Role.FACILITATOR:
            log.info("schedule %s: its owner is no longer a facilitator; no note", job.schedule_id)
            return
        await self._chat.send_direct(
            UserRef.parse(job.owner),
            OutgoingMessage(
                (
                    Text(
                        f"I've posted your scheduled prompt **{escape(prompt.title)}** "
                        f"(`{prompt.id}`) in {channel.label}{which}."
                    ),
                    facilitator_note(prompt),
                )
            ),
        )

    async def _trouble(self, job: Job, state: JobState) -> None:
        if not job.owner:
            return
        owner = UserRef.parse(job.owner)
        channel = await self._now_called(_channel_of(job.payload))
        if not await self._owner_sees(owner, channel):
            log.info("schedule %s: its owner is outside its channel; not told", job.schedule_id)
            return
        recurrence = await self._scheduler.recurrence(job.schedule_id) if job.schedule_id else None
        tz = ZoneInfo(recurrence.timezone) if recurrence else self._tz
        when = self._local(first_due(job, tz))
        prefix = self._chat.command_prefix(owner.platform)
        again = (
            _cmd(prefix, f"schedule resume {recurrence.id}")
            if recurrence is not None and recurrence.paused
            else ""
        )
        # An owner whose role was taken away since would be refused the command.
        lost_role = (
            bool(again)
            and self._roles is not None
            and await self._roles.role_of(job.owner) < Role.FACILITATOR
        )
        theirs = _cmd(prefix, "role list") if lost_role else ""
        says = trouble_words(state, channel.label, when, job.last_error, again, theirs=theirs)
        if says is not None:
            suffix = f" (schedule #{job.schedule_id})" if job.schedule_id else ""
            await self._chat.send_direct(owner, OutgoingMessage.of(says + suffix))

    def _local(self, moment: datetime | None) -> str:
        if moment is None:
            return "no date (the schedule has ended)"
        return for_people(moment, self._tz)


@dataclass(frozen=True)
class ScheduleLine:
    """A prompt schedule as people read it, in chat, on the command line and the console."""

    id: int
    description: str
    next_on: str
    owner: str  # their name, or "" when nobody is told of its trouble
    paused_since: str = ""  # when it was paused, or "" while it runs

    @property
    def line(self) -> str:
        state = (
            f"paused since {self.paused_since}" if self.paused_since else f"next on {self.next_on}"
        )
        by = f" (set up by {self.owner})" if self.owner else ""
        return f"#{self.id}: {self.description}; {state}{by}"


def _channel_of(payload: str) -> ChannelRef:
    """A schedule's (or its job's) channel, named as it was when the schedule was set up."""
    return codec.from_json(ChannelRef, json.loads(payload)["channel"])


def _no_such(number: int, prefix: str) -> CommandError:
    return CommandError(
        f"There's no active schedule #{number}. {_cmd(prefix, 'schedule list')} shows them."
    )


def _cmd(prefix: str, words: str) -> str:
    return f"`{prefix} {words}`" if prefix else f"`{words}`"


def _channel_token(text: str) -> str:
    """#north, north, <#C123>, <#C123|north> -> the name or id to look up."""
    text = text.strip()
    if text.startswith("<#") and text.endswith(">"):
        ident, _, name = text[2:-1].partition("|")
        return ident or name
    return text.lstrip("#")


def _one_of(usable: list[ChannelRef], wanted: str, here: ChannelRef | None) -> ChannelRef:
    """The channel meant by a name several share (two workspaces' #general, every Teams
    team's General): its id if given, else the one in the asker's own workspace, else
    none: guessing could post in the wrong community."""
    if len(usable) == 1 or usable[0].id == wanted:
        return usable[0]
    if here is not None:
        same = [c for c in usable if c.workspace == here.workspace]
        if len(same) == 1:
            return same[0]
    raise UsageError(
        f"More than one channel you and I are both in is called #{wanted}, so I can't tell "
        f"which you mean. Run the command in that channel, leaving out `in #{wanted}`."
    )
