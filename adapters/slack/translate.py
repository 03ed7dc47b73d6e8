"""Slack payloads in, neutral events out: pure functions, tested against recorded JSON.

Every function takes the payload as Slack sent it (the Events API envelope, the slash
command's form fields, the interactivity payload), the names the adapter looked up first
(``Names``), and returns a model event or ``None`` for something copbot ignores.

Event ids (the inbox deduplicates on them, so Slack's retries never count twice): the Events
API's own ``event_id``; ``cmd:<trigger_id>`` for slash commands; ``action:<trigger_id>`` for
buttons; ``view:<view id>`` for forms. None of them holds a user id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.slack import metadata
from adapters.slack.text import (
    PLATFORM,
    after_mention,
    command_text,
    mentioned_users,
    plain_text,
    unnamed_channels,
)
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    InboundEvent,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    ThreadRef,
    UserRef,
)

Payload = Mapping[str, Any]

# Message subtypes that are someone saying something; the rest (joins, topic changes, pins…)
# are Slack's own notices and copbot ignores them.
SPOKEN = frozenset({None, "thread_broadcast", "bot_message", "file_share", "me_message"})
PRIVATE_CHANNEL_NAMES = frozenset({"directmessage", "privategroup"})


@dataclass(frozen=True)
class Me:
    """Who copbot is in this workspace, from ``auth.test``."""

    user_id: str
    bot_id: str
    team_id: str
    name: str = "copbot"

    def wrote(self, message: Payload) -> bool:
        return bool(
            (message.get("bot_id") and message.get("bot_id") == self.bot_id)
            or (message.get("user") and message.get("user") == self.user_id)
        )


@dataclass(frozen=True)
class Names:
    """Display names the adapter resolved before translating; missing ones fall back to ids."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookups:
    """The names a payload needs before it can be translated."""

    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------
# What to look up first


def lookups_for_event(body: Payload) -> Lookups:
    event = body.get("event") or {}
    message = event.get("message") or event
    users = {u for u in (message.get("user"), event.get("inviter")) if isinstance(u, str)}
    if edited := (message.get("edited") or {}).get("user"):
        users.add(edited)
    text = str(message.get("text") or "")
    users |= mentioned_users(text)
    channels = unnamed_channels(text)
    if isinstance(event.get("channel"), str):
        channels.add(event["channel"])
    return Lookups(frozenset(users), frozenset(channels))


def lookups_for_interaction(body: Payload) -> Lookups:
    user = _id(body.get("user")) or str(body.get("user_id") or "")
    channel = _id(body.get("channel")) or str((body.get("container") or {}).get("channel_id") or "")
    return Lookups(frozenset({user} - {""}), frozenset({channel} - {""}))


# ---------------------------------------------------------------------------
# Events API


def from_event(body: Payload, me: Me, names: Names, now: datetime) -> InboundEvent | None:
    event = body.get("event") or {}
    event_id = str(body.get("event_id") or "")
    if not event_id:
        return None  # without Slack's id a retry could not be recognised
    team = str(body.get("team_id") or event.get("team") or me.team_id)
    match event.get("type"):
        case "message":
            return _message(event_id, event, team, me, names, now)
        case "app_mention":
            return _mention(event_id, event, team, me, names, now)
        case "member_joined_channel":
            return _joined(event_id, event, team, me, names, now)
        case "member_left_channel" if event.get("user") == me.user_id:
            return BotRemovedFromChannel(event_id, _channel(event, team, names), _at(event, now))
        case "channel_left" | "group_left":  # sent to copbot when it is removed
            return BotRemovedFromChannel(event_id, _channel(event, team, names), _at(event, now))
        case "app_home_opened" if event.get("tab") == "home":
            return HomeOpened(event_id, _user(event.get("user"), names), _at(event, now))
    return None


def _message(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edited(event_id, event, team, me, names, now)
    if subtype == "message_deleted":
        return _deleted(event_id, event, team, me, names, now)
    if subtype not in SPOKEN or me.wrote(event):
        return None
    ref = _ref(_channel(event, team, names), event.get("ts"), event.get("thread_ts"))
    author, from_bot = _author(event, names)
    text = plain_text(str(event.get("text") or ""), names.users, names.channels)
    return MessagePosted(event_id, ref, author, text, _at(event, now), from_bot)


def _edited(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    message = event.get("message") or {}
    previous = event.get("previous_message") or {}
    if me.wrote(message):
        return None
    root = message.get("thread_ts") or previous.get("thread_ts")
    ref = _ref(_channel(event, team, names), message.get("ts") or previous.get("ts"), root)
    if message.get("subtype") == "tombstone":
        # A thread's first message, deleted while it has replies, stays as a tombstone.
        return MessageDeleted(event_id, ref, _at(event, now))
    text = str(message.get("text") or "")
    if "text" in previous and text == previous.get("text"):
        return None  # a link preview or attachment changed, not the words
    edited = message.get("edited") or {}
    editor = edited.get("user") or message.get("user")
    at = _at(edited, now) if edited.get("ts") else _at(event, now)
    return MessageEdited(
        event_id,
        ref,
        plain_text(text, names.users, names.channels),
        at,
        _user(editor, names) if editor else None,
    )


def _deleted(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    previous = event.get("previous_message") or {}
    if me.wrote(previous):
        return None
    ts = event.get("deleted_ts") or previous.get("ts")
    ref = _ref(_channel(event, team, names), ts, previous.get("thread_ts"))
    return MessageDeleted(event_id, ref, _at(event, now))


def _mention(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    if me.wrote(event):
        return None
    channel = _channel(event, team, names)
    root = event.get("thread_ts")
    origin = Origin(
        _user(event.get("user"), names), channel, ThreadRef(channel, root) if root else None
    )
    text = command_text(after_mention(str(event.get("text") or ""), me.user_id))
    return CommandReceived(event_id, origin, text, _at(event, now))


def _joined(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent:
    channel = _channel(event, team, names)
    user = event.get("user")
    at = _at(event, now)
    if user == me.user_id:
        inviter = event.get("inviter")
        return BotAddedToChannel(event_id, channel, at, _user(inviter, names) if inviter else None)
    return MemberJoined(event_id, channel, _user(user, names), at)


# ---------------------------------------------------------------------------
# Slash commands and interactivity


def from_command(form: Payload, names: Names, now: datetime) -> CommandReceived | None:
    """``/cop <text>``, from the slash command's form fields."""
    trigger = str(form.get("trigger_id") or "")
    channel_id = str(form.get("channel_id") or "")
    if not trigger or not channel_id:
        return None
    name = str(form.get("channel_name") or "")
    direct = channel_id.startswith("D") or name == "directmessage"
    channel = ChannelRef(
        PLATFORM,
        channel_id,
        str(form.get("team_id") or ""),
        names.channels.get(channel_id, "") if name in PRIVATE_CHANNEL_NAMES else name,
        ChannelKind.DIRECT if direct else ChannelKind.CHANNEL,
    )
    user_id = str(form.get("user_id") or "")
    user = UserRef(PLATFORM, user_id, names.users.get(user_id) or str(form.get("user_name") or ""))
    root = form.get("thread_ts")
    thread = ThreadRef(channel, str(root)) if root else None
    text = command_text(str(form.get("text") or ""))
    return CommandReceived(f"cmd:{trigger}", Origin(user, channel, thread, trigger), text, now)


def from_block_actions(body: Payload, names: Names, now: datetime) -> ButtonPressed | None:
    actions = body.get("actions") or []
    trigger = str(body.get("trigger_id") or "")
    if not actions or not trigger:
        return None
    action = actions[0]
    team = _team(body)
    user = _person(body.get("user"), names)
    container = body.get("container") or {}
    ref: MessageRef | None = None
    thread: ThreadRef | None = None
    if container.get("type") == "message":
        channel_id = str(container.get("channel_id") or _id(body.get("channel")))
        channel = _channel_of(channel_id, team, names, (body.get("channel") or {}).get("name"))
        message = body.get("message") or {}
        ts = container.get("message_ts") or message.get("ts")
        root = message.get("thread_ts") or container.get("thread_ts")
        thread = ThreadRef(channel, str(root)) if root else None
        if not container.get("is_ephemeral"):
            ref = _ref(channel, ts, root)
    else:
        # A button in a modal or the home tab: there is no channel, so answers go by DM.
        channel = _nowhere(team)
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    return ButtonPressed(
        f"action:{trigger}",
        Origin(user, channel, thread, trigger),
        str(action.get("action_id") or ""),
        str(value),
        _at({"ts": action.get("action_ts")}, now),
        ref,
    )


def from_view_submission(body: Payload, names: Names, now: datetime) -> FormSubmitted | None:
    view = body.get("view") or {}
    if not view.get("id"):
        return None
    came_from = metadata.decode(str(view.get("private_metadata") or ""), _team(body))
    if came_from.anonymous:
        # Dropped here, before the event exists: nothing downstream can keep who it was.
        origin = Origin(UserRef.anonymous(PLATFORM), came_from.channel, came_from.thread)
        origin = origin.anonymised()
    else:
        user = _person(body.get("user"), names)
        origin = Origin(
            user, came_from.channel, came_from.thread, str(body.get("trigger_id") or "")
        )
    values = submission_values((view.get("state") or {}).get("values") or {})
    form_id = str(view.get("callback_id") or "")
    return FormSubmitted(f"view:{view['id']}", origin, form_id, values, now, came_from.context)


def submission_values(state: Mapping[str, Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """``view.state.values`` as (field id, value) pairs; copbot names each block after its field."""
    return tuple(
        (block_id, _input_value(element))
        for block_id, elements in state.items()
        for element in list(elements.values())[:1]
    )


def _input_value(element: Mapping[str, Any]) -> str:
    match element.get("type"):
        case "static_select" | "radio_buttons" | "external_select":
            return str((element.get("selected_option") or {}).get("value") or "")
        case "datetimepicker":
            stamp = element.get("selected_date_time")
            return datetime.fromtimestamp(int(stamp), UTC).isoformat() if stamp else ""
        case "datepicker":
            return str(element.get("selected_date") or "")
        case "timepicker":
            return str(element.get("selected_time") or "")
        case "checkboxes":
            return ",".join(str(o.get("value")) for o in element.get("selected_options") or [])
    return str(element.get("value") or "").strip()


# ---------------------------------------------------------------------------
# Pieces


def _user(user_id: Any, names: Names) -> UserRef:
    uid = str(user_id or "")
    return UserRef(PLATFORM, uid, names.users.get(uid, ""))


def _person(user: Any, names: Names) -> UserRef:
    """The person in an interactivity payload, named by lookup or else by their Slack handle."""
    ref = _user(_id(user), names)
    if ref.name or not isinstance(user, Mapping):
        return ref
    return UserRef(PLATFORM, ref.id, str(user.get("name") or user.get("username") or ""))


def _author(event: Payload, names: Names) -> tuple[UserRef, bool]:
    if event.get("bot_id") or event.get("subtype") == "bot_message":
        name = (event.get("bot_profile") or {}).get("name") or event.get("username") or ""
        bot = str(event.get("user") or event.get("bot_id") or "")
        return UserRef(PLATFORM, bot, names.users.get(bot) or str(name)), True
    profile = event.get("user_profile") or {}
    user = _user(event.get("user"), names)
    name = user.name or profile.get("display_name") or profile.get("real_name") or ""
    return UserRef(PLATFORM, user.id, str(name)), False


def _channel(event: Payload, team: str, names: Names) -> ChannelRef:
    channel_id = str(event.get("channel") or "")
    kind = ChannelKind.DIRECT if event.get("channel_type") == "im" else None
    return _channel_of(channel_id, team, names, None, kind)


def _channel_of(
    channel_id: str,
    team: str,
    names: Names,
    name: Any = None,
    kind: ChannelKind | None = None,
) -> ChannelRef:
    if kind is None:
        kind = ChannelKind.DIRECT if channel_id.startswith("D") else ChannelKind.CHANNEL
    label = "" if name in PRIVATE_CHANNEL_NAMES else str(name or "")
    return ChannelRef(PLATFORM, channel_id, team, label or names.channels.get(channel_id, ""), kind)


def _nowhere(team: str) -> ChannelRef:
    return ChannelRef(PLATFORM, "", team, "", ChannelKind.DIRECT)


def _ref(channel: ChannelRef, ts: Any, root: Any) -> MessageRef:
    ts = str(ts or "")
    return MessageRef(channel, ts, str(root) if root and root != ts else None)


def _at(payload: Payload, now: datetime) -> datetime:
    for key in ("ts", "event_ts"):
        try:
            return datetime.fromtimestamp(float(payload[key]), UTC)
        except (KeyError, TypeError, ValueError):
            continue
    return now


def _id(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _team(body: Payload) -> str:
    return _id(body.get("team")) or str((body.get("user") or {}).get("team_id") or "")
