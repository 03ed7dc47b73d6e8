"""Teams activities in, neutral events out: pure functions, tested on fixtures shaped like
the activities Microsoft documents for Teams bots.

Every function takes the activity as the Bot Framework sent it (a JSON object), what the
adapter knows already (``Known``: copbot's own id, channel names, people's aad ids), and
returns a model event or None for something copbot ignores.

People are named by their Microsoft Entra (aad) object id, ``teams:<aad-object-id>``: the
same person has a different ``29:…`` id per bot, but one aad id everywhere. The tenant is the
workspace. Channels are named by their ``19:…`` id; a channel thread's conversation id is
``<channel id>;messageid=<root id>``.

Event ids (the inbox deduplicates on them; Teams message ids are timestamps, so each is
prefixed with its conversation): ``msg:<channel>:<id>`` for messages and commands,
``said:<channel>:<id>`` for the message a mention of copbot in a channel was written in,
``edit:<channel>:<id>:<timestamp>:<text digest>`` for edits (an edit reuses the message's
activity id, so a second edit differs only by when and what), ``del:<channel>:<id>`` for
deletions, ``act:<channel>:<id>`` for card actions (``act:<id>`` for an anonymous form's).
None of them holds a user id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.payload import OBJECT
from adapters.teams import cards
from adapters.teams.text import (
    DEFAULT_NAME,
    PLATFORM,
    addressed,
    command_text,
    mention_ids,
    plain_text,
)
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    ChannelRenamed,
    CommandReceived,
    FormSubmitted,
    InboundEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    ThreadRef,
    UserRef,
)

Payload = Mapping[str, Any]

GENERAL = "General"  # Teams gives the General channel no name; people know it by this one
THREAD_MARK = ";messageid="


@dataclass(frozen=True)
class Known:
    """What the adapter knows before it translates."""

    me: str = ""  # copbot's own Teams id (``28:<app id>``), from the activity's recipient
    name: str = DEFAULT_NAME  # copbot's name in this organisation's Teams
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name
    people: Mapping[str, str] = field(default_factory=dict)  # ``29:…`` id -> aad object id
    # For an invoke (``task/fetch``, ``adaptiveCard/action``): the token under which the
    # adapter waits to answer it, put in the press's handle so that what the core does
    # with the press (opens a form, updates the card, answers) can answer the invoke.
    invoke: str = ""


# ---------------------------------------------------------------------------
# Pieces every activity has

_OBJECTS = ("from", "recipient", "conversation", "channelData")
_LISTS = ("entities", "attachments", "membersAdded", "membersRemoved")
_FIELD = (str, bool, list, *OBJECT)  # what a field of those objects may hold
_STRINGS = ("type", "id", "text", "serviceUrl", "name", "timestamp", "replyToId", "action")


def well_formed(activity: Any) -> bool:
    """The shape translation relies on: the fields it reads have the types Teams sends.
    Anything else is refused before it is looked at further (a 400)."""
    if not isinstance(activity, OBJECT) or not isinstance(activity.get("type"), str):
        return False
    for key in _OBJECTS:
        value = activity.get(key)
        if value is not None and not isinstance(value, OBJECT):
            return False
        if isinstance(value, OBJECT) and any(
            v is not None and not isinstance(v, _FIELD) for v in value.values()
        ):
            return False
    for key in _LISTS:
        value = activity.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, OBJECT) for v in value)
        ):
            return False
    data = activity.get("channelData") or {}
    for key in ("team", "channel", "tenant", "settings"):
        if data.get(key) is not None and not isinstance(data.get(key), OBJECT):
            return False
    return all(activity.get(key) is None or isinstance(activity.get(key), str) for key in _STRINGS)


def tenant_of(activity: Payload) -> str:
    """The tenant, from ``channelData.tenant.id`` (Teams' own; the schema's name differs)."""
    tenant = _get(activity, "channelData", "tenant", "id") or _get(
        activity, "conversation", "tenantId"
    )
    return str(tenant or "")


def split_conversation(conversation_id: str) -> tuple[str, str | None]:
    """``19:a@thread.tacv2;messageid=17`` -> ``("19:a@thread.tacv2", "17")``."""
    base, mark, root = conversation_id.partition(THREAD_MARK)
    return base, (root or None) if mark else None


def team_of(activity: Payload) -> str:
    return str(_get(activity, "channelData", "team", "id") or "")


def is_personal(activity: Payload) -> bool:
    return bool(_get(activity, "conversation", "conversationType") == "personal")


def channel_of(activity: Payload, known: Known) -> ChannelRef:
    conversation = str(_get(activity, "conversation", "id") or "")
    base, _ = split_conversation(conversation)
    tenant = tenant_of(activity)
    if is_personal(activity):
        return ChannelRef(PLATFORM, base, tenant, "", ChannelKind.DIRECT)
    channel_id = str(_get(activity, "channelData", "channel", "id") or base)
    name = known.channels.get(channel_id) or str(
        _get(activity, "channelData", "channel", "name") or ""
    )
    if not name and channel_id and channel_id == team_of(activity):
        name = GENERAL
    return ChannelRef(PLATFORM, channel_id, tenant, name)


def person(account: Any, known: Known) -> UserRef:
    """A ``from`` or ``mentioned`` account as a person, named by aad object id."""
    if not isinstance(account, OBJECT):
        return UserRef(PLATFORM, "")
    teams_id = str(account.get("id") or "")
    aad = str(account.get("aadObjectId") or known.people.get(teams_id) or "")
    return UserRef(PLATFORM, aad, str(account.get("name") or ""))


def at(activity: Payload, now: datetime) -> datetime:
    stamp = activity.get("timestamp")
    if isinstance(stamp, str) and stamp:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return now
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return now


def message_ref(activity: Payload, known: Known, message_id: str | None = None) -> MessageRef:
    channel = channel_of(activity, known)
    ident = str(message_id or activity.get("id") or "")
    _, root = split_conversation(str(_get(activity, "conversation", "id") or ""))
    root = root or (str(activity["replyToId"]) if activity.get("replyToId") else None)
    if channel.is_direct:
        root = None  # a 1:1 chat has no threads
    return MessageRef(channel, ident, root if root and root != ident else None)


def words(activity: Payload) -> str:
    """The message's HTML, from its ``text/html`` attachment when there is one."""
    for attachment in activity.get("attachments") or ():
        if isinstance(attachment, OBJECT) and attachment.get("contentType") == "text/html":
            content = attachment.get("content")
            if isinstance(content, str) and content.strip():
                return content
    return str(activity.get("text") or "")


# ---------------------------------------------------------------------------
# Activities


def from_activity(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    match activity.get("type"):
        case "message":
            if activity.get("value") is not None and not activity.get("text"):
                return _card_submit(activity, known, now)
            return _message(activity, known, now)
        case "messageUpdate":
            return _edited(activity, known, now)
        case "messageDelete":
            return _deleted(activity, known, now)
        case "invoke" if activity.get("name") == "adaptiveCard/action":
            return _submitted(activity, _get(activity, "value", "action", "data"), known, now)
        case "invoke" if activity.get("name") in ("task/fetch", "task/submit"):
            # A button asking for a dialog, or the dialog sent back: the card's data with
            # the inputs' values, as for Action.Submit.
            return _submitted(activity, _get(activity, "value", "data"), known, now)
        case "installationUpdate" | "conversationUpdate" if is_personal(activity):
            return _added_to_chat(activity, known, now)
    return None


def _added_to_chat(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    """copbot added to someone's 1:1 chat (the app's Chat): Teams says so with both an
    ``installationUpdate`` and a ``conversationUpdate``, in either order; both get one event
    id, so that the hello is said once."""
    if activity.get("type") == "installationUpdate":
        # Not "add-upgrade": a new version of the app reaches every chat it is in.
        added = activity.get("action") == "add"
    else:
        me = known.me or str(_get(activity, "recipient", "id") or "")
        added = _has(activity.get("membersAdded"), me)
    if not added:
        return None
    channel = channel_of(activity, known)
    by = person(activity.get("from"), known)
    return BotAddedToChannel(
        f"chat-added:{channel.id}", channel, at(activity, now), by if by.id else None
    )


def submitted_data(activity: Payload) -> dict[str, Any] | None:
    """The card data a press or a form sends back (a card's or a dialog's), if any."""
    if activity.get("type") == "invoke":
        data = _get(activity, "value", "data")
        if activity.get("name") == "adaptiveCard/action":
            data = _get(activity, "value", "action", "data")
    else:
        data = activity.get("value")
    return data if isinstance(data, dict) else None


def anonymous_submission(activity: Payload) -> bool:
    """Whether the activity sends back an anonymous form (as a card or a dialog): then
    nothing about where it came from may be kept, not even a conversation reference."""
    data = submitted_data(activity)
    card = cards.read_data(data) if data is not None else None
    return isinstance(card, cards.FormData) and card.anonymous


def _from_me(activity: Payload, known: Known) -> bool:
    sender = str(_get(activity, "from", "id") or "")
    me = known.me or str(_get(activity, "recipient", "id") or "")
    return bool(sender) and sender == me


def _message(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    ident = str(activity.get("id") or "")
    if not ident or _from_me(activity, known):
        return None
    ref = message_ref(activity, known)
    author = person(activity.get("from"), known)
    html = words(activity)
    me = known.me or str(_get(activity, "recipient", "id") or "")
    mentioned = mention_ids(activity.get("entities"))
    # Elsewhere than the 1:1 chat, only a message that starts with @copbot speaks to it: one
    # naming copbot in passing ("Hey @copbot help") is a message like any other.
    if ref.channel.is_direct or addressed(html, mentioned, me):
        if not author.id:
            return None  # Teams names every person: without an Entra id, no one to answer
        # A command: the whole text in the 1:1 chat, what follows @copbot elsewhere.
        aads = [me if m == me else _aad_of(m, activity, known) for m in mentioned]
        origin = Origin(author, ref.channel, ref.thread, _handle(activity))
        # In a channel, the message everyone there reads: if it is no command ("@copbot
        # thanks, …"), the core keeps it as the reply it is.
        said = None if ref.channel.is_direct else _posted(activity, ref, author, html, now, "said")
        return CommandReceived(
            f"msg:{ref.channel.id}:{ident}",
            origin,
            command_text(html, aads, me, known.name),
            at(activity, now),
            said,
        )
    return _posted(activity, ref, author, html, now)


def _posted(
    activity: Payload, ref: MessageRef, author: UserRef, html: str, now: datetime, kind: str = "msg"
) -> MessagePosted:
    # Only people have an Entra id: a post without one is a bot's or a workflow's, which
    # Teams doesn't always mark with a role.
    from_bot = _get(activity, "from", "role") == "bot" or not author.id
    return MessagePosted(
        f"{kind}:{ref.channel.id}:{ref.id}",
        ref,
        author,
        plain_text(html),
        at(activity, now),
        from_bot=from_bot,
    )


def _edited(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    event_type = _get(activity, "channelData", "eventType")
    ident = str(activity.get("id") or "")
    if event_type not in (None, "editMessage") or not ident or _from_me(activity, known):
        return None
    text = plain_text(words(activity))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    stamp = str(activity.get("timestamp") or "")
    editor = person(activity.get("from"), known)
    ref = message_ref(activity, known)
    # As edited, the message may start with a mention of copbot, and so be a command: the
    # core then takes it out of the archive.
    asked = None if ref.channel.is_direct else _asked(activity, known)
    return MessageEdited(
        f"edit:{ref.channel.id}:{ident}:{stamp}:{digest}",
        ref,
        text,
        at(activity, now),
        editor if editor.id else None,
        # In Teams, people change only their own messages; a bot's are never kept.
        editor if editor.id and _get(activity, "from", "role") != "bot" else None,
        _posted_at(ident),
        asked,
    )


def _asked(activity: Payload, known: Known) -> str | None:
    """What follows the mention of copbot the message starts with, as a command's text;
    None when it starts with none."""
    me = known.me or str(_get(activity, "recipient", "id") or "")
    html = words(activity)
    mentioned = mention_ids(activity.get("entities"))
    if not addressed(html, mentioned, me):
        return None
    aads = [me if m == me else _aad_of(m, activity, known) for m in mentioned]
    return command_text(html, aads, me, known.name)


def _posted_at(ident: str) -> datetime | None:
    """When a Teams message was posted: its id is that moment, in milliseconds."""
    if not ident.isascii() or not ident.isdigit() or len(ident) > 15:
        return None
    return datetime.fromtimestamp(int(ident) / 1000, UTC)


def _deleted(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    event_type = _get(activity, "channelData", "eventType")
    ident = str(activity.get("id") or "")
    if event_type not in (None, "softDeleteMessage") or not ident:
        return None  # undeleteMessage: a deleted message is never kept again
    ref = message_ref(activity, known)
    return MessageDeleted(f"del:{ref.channel.id}:{ident}", ref, at(activity, now))


def _card_submit(activity: Payload, known: Known, now: datetime) -> InboundEvent | None:
    return _submitted(activity, activity.get("value"), known, now)


def _submitted(activity: Payload, data: Any, known: Known, now: datetime) -> InboundEvent | None:
    """An ``Action.Submit``/``Action.Execute`` of a card copbot sent: a button or a form."""
    ident = str(activity.get("id") or "")
    if not ident or not isinstance(data, OBJECT):
        return None
    card = cards.read_data(data)
    # Where it happened, so two conversations' ids can't collide; but never for an
    # anonymous form: its conversation may be the person's own chat.
    anonymous = isinstance(card, cards.FormData) and card.anonymous
    where = "" if anonymous else f"{channel_of(activity, known).id}:"
    event_id = f"act:{where}{ident}"
    if isinstance(card, cards.FormData) and card.shown:
        event_id = f"act:dialog:{card.shown}"  # the dialog's, however often it is sent
    if not anonymous and not person(activity.get("from"), known).id:
        return None  # a press or a form of no one Teams names: no one to act for or answer
    if isinstance(card, cards.FormData):
        origin = _form_origin(activity, card, known)
        values = cards.form_values(card, data)
        return FormSubmitted(
            event_id, origin, card.form_id, values, at(activity, now), card.context
        )
    if isinstance(card, cards.ActionData):
        channel = channel_of(activity, known)
        replied = activity.get("replyToId")
        carrier = (
            MessageRef(channel, str(replied), message_ref(activity, known).thread_root)
            if replied
            else None
        )
        thread = carrier.as_thread if carrier and carrier.thread_root else None
        handle = _handle(activity, known.invoke)
        origin = Origin(person(activity.get("from"), known), channel, thread, handle)
        return ButtonPressed(
            event_id, origin, card.action_id, card.value, at(activity, now), carrier
        )
    return None


def _form_origin(activity: Payload, card: cards.FormData, known: Known) -> Origin:
    tenant = tenant_of(activity)
    if card.channel:
        kind = ChannelKind.DIRECT if card.direct else ChannelKind.CHANNEL
        name = known.channels.get(card.channel, "") if not card.direct else ""
        channel = ChannelRef(PLATFORM, card.channel, tenant, name, kind)
    else:
        channel = channel_of(activity, known)
    thread = ThreadRef(channel, card.thread) if card.thread else None
    if card.anonymous:
        # Dropped here, before the event exists: nothing downstream can keep who it was.
        return Origin(UserRef.anonymous(PLATFORM), channel, thread).anonymised()
    handle = _handle(activity, known.invoke)
    return Origin(person(activity.get("from"), known), channel, thread, handle)


def _aad_of(teams_id: str, activity: Payload, known: Known) -> str | None:
    for entity in activity.get("entities") or ():
        mentioned = entity.get("mentioned") if isinstance(entity, OBJECT) else None
        if isinstance(mentioned, OBJECT) and mentioned.get("id") == teams_id:
            aad = mentioned.get("aadObjectId")
            if aad:
                return str(aad)
    return known.people.get(teams_id) or None


def _handle(activity: Payload, invoke: str = "") -> str:
    """Where to answer in place: the conversation, so a reply in the 1:1 chat stays there;
    and, for a press Teams waits on (an invoke), the token of that invoke."""
    doc = {"conversation": str(_get(activity, "conversation", "id") or "")}
    if invoke:
        doc["invoke"] = invoke
    return json.dumps(doc, separators=(",", ":"))


def invoke_of(handle: str) -> str:
    """The waiting invoke's token in an origin's handle, or ""."""
    try:
        doc = json.loads(handle) if handle.startswith("{") else None
    except ValueError:
        return ""
    token = doc.get("invoke") if isinstance(doc, dict) else None
    return token if isinstance(token, str) else ""


# ---------------------------------------------------------------------------
# Teams and channels (``conversationUpdate``, ``installationUpdate``)


@dataclass(frozen=True)
class TeamChange:
    """What happened to a team copbot is (or was) in."""

    # installed, restored (a deleted team back: taken in again, without a hello), removed,
    # channel_created, channel_renamed, channel_deleted
    kind: str
    team: str
    tenant: str
    channel: str = ""
    name: str = ""


def team_change(activity: Payload) -> TeamChange | None:
    kind = activity.get("type")
    team = team_of(activity)
    tenant = tenant_of(activity)
    me = str(_get(activity, "recipient", "id") or "")
    if kind == "installationUpdate" and team:
        action = str(activity.get("action") or "")
        if action.startswith("add"):
            return TeamChange("installed", team, tenant)
        if action.startswith("remove"):
            return TeamChange("removed", team, tenant)
        return None
    if kind != "conversationUpdate" or not team:
        return None
    event_type = _get(activity, "channelData", "eventType")
    channel = _get(activity, "channelData", "channel") or {}
    channel_id = str(channel.get("id") or "")
    channel_name = str(channel.get("name") or "")
    if _has(activity.get("membersAdded"), me):
        return TeamChange("installed", team, tenant)
    if _has(activity.get("membersRemoved"), me):
        return TeamChange("removed", team, tenant)
    # A deleted team comes with no membersRemoved for copbot: held on to, its channels'
    # member lists (which Teams no longer gives) would leave everyone's search unsure.
    if event_type in ("teamDeleted", "teamHardDeleted"):
        return TeamChange("removed", team, tenant)
    if event_type == "teamRestored":
        return TeamChange("restored", team, tenant)
    if event_type == "channelCreated" and channel_id:
        return TeamChange("channel_created", team, tenant, channel_id, channel_name)
    if event_type == "channelRenamed" and channel_id:
        return TeamChange("channel_renamed", team, tenant, channel_id, channel_name)
    if event_type in ("channelDeleted", "channelRestored") and channel_id:
        kind = "channel_deleted" if event_type == "channelDeleted" else "channel_created"
        return TeamChange(kind, team, tenant, channel_id, channel_name)
    return None


def channel_name(channel_id: str, name: str, team: str) -> str:
    return name or (GENERAL if channel_id == team else "")


def team_events(
    change: TeamChange,
    channels: Mapping[str, str],
    activity_id: str,
    now: datetime,
) -> list[InboundEvent]:
    """The neutral events for a team change; ``channels`` is the team's channels by id
    (for an installation or removal: all of them, as copbot knows them)."""

    def ref(channel_id: str, name: str) -> ChannelRef:
        return ChannelRef(PLATFORM, channel_id, change.tenant, name)

    base = f"team:{activity_id}"
    match change.kind:
        case "installed" | "restored":
            # A team of channels arrives at once: only General says hello, and only when
            # copbot is added (a restored team heard it before).
            greet = change.kind == "installed"
            return [
                BotAddedToChannel(
                    f"{base}:{cid}", ref(cid, name), now, greet=greet and cid == change.team
                )
                for cid, name in channels.items()
            ]
        case "removed":
            return [
                BotRemovedFromChannel(f"{base}:{cid}", ref(cid, name), now)
                for cid, name in channels.items()
            ]
        case "channel_created":
            name = channel_name(change.channel, change.name, change.team)
            return [BotAddedToChannel(base, ref(change.channel, name), now, greet=False)]
        case "channel_renamed":
            name = channel_name(change.channel, change.name, change.team)
            return [ChannelRenamed(base, ref(change.channel, name), now)]
        case "channel_deleted":
            name = channels.get(change.channel, change.name)
            return [BotRemovedFromChannel(base, ref(change.channel, name), now)]
    return []


# ---------------------------------------------------------------------------


def _get(payload: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(payload, OBJECT):
            return None
        payload = payload.get(key)
    return payload


def _has(accounts: Any, ident: str) -> bool:
    return bool(ident) and any(
        isinstance(a, OBJECT) and a.get("id") == ident for a in accounts or ()
    )
