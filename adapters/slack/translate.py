"""Slack payloads in, neutral events out: pure functions, tested against recorded JSON.

Every function takes the payload as Slack sent it (the Events API envelope, the slash
command's form fields, the interactivity payload), the names the adapter looked up first
(``Names``), and returns a model event or ``None`` for something copbot ignores.

Event ids (the inbox deduplicates on them, so Slack's retries never count twice): the Events
API's own ``event_id``; ``cmd:<trigger_id>`` for slash commands; ``action:<trigger_id>`` for
buttons; ``view:<view id>`` for forms. None of them holds a user id.

Every field is read through ``schema.py``: a payload that doesn't fit what a translator reads
raises ``Malformed`` (the adapter sets it aside with the reason), and a payload from another
Slack workspace is ``foreign`` (copbot serves one community).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from adapters.payload import OBJECT
from adapters.slack import metadata
from adapters.slack.schema import (
    Malformed,
    Payload,
    clean,
    flag,
    ident,
    obj,
    objects,
    required,
    text,
    token,
    ts,
    word,
)
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
    ChannelRenamed,
    ChannelVisibilityChanged,
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

# A channel made private or public: Slack says so in the channel, as a message.
CONVERTED = {"channel_convert_to_private": True, "channel_convert_to_public": False}
# A channel renamed: Slack says so in the channel, as a message (group_name in an older
# private channel); copbot remembers the new name, as when it is added.
RENAMED = frozenset({"channel_name", "group_name"})
# Message subtypes that are someone saying something; the rest (joins, topic changes, pins…)
# are Slack's own notices and copbot ignores them.
SPOKEN = frozenset({None, "thread_broadcast", "bot_message", "file_share", "me_message"})
PRIVATE_CHANNEL_NAMES = frozenset({"directmessage", "privategroup"})
NAME_LIMIT = 500  # names, handles, form and action ids: short by nature
LAST_SECOND = 253_402_300_800  # the first second after 9999-12-31, Python's last date


@dataclass(frozen=True)
class Me:
    """Who copbot is in this workspace, from ``auth.test``."""

    user_id: str
    bot_id: str
    team_id: str
    name: str = "copbot"

    def wrote(self, message: Payload) -> bool:
        bot, user = ident(message, "bot_id"), ident(message, "user")
        return bool((bot and bot == self.bot_id) or (user and user == self.user_id))

    def foreign(self, *teams: str) -> bool:
        """Whether a payload naming ``teams`` (empty: not named) comes from another workspace."""
        return bool(self.team_id) and any(t and t != self.team_id for t in teams)


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
# Which workspace


def event_teams(body: Payload) -> tuple[str, ...]:
    """The workspaces an Events API delivery names: its own and those it was authorized for."""
    authorized = tuple(ident(a, "team_id") for a in objects(body, "authorizations"))
    return (ident(body, "team_id"), *authorized) if authorized else (ident(body, "team_id"),)


def interaction_teams(body: Payload) -> tuple[str, ...]:
    return (_team(body),)


# ---------------------------------------------------------------------------
# What to look up first


def lookups_for_event(body: Payload) -> Lookups:
    event = obj(body, "event")
    message = obj(event, "message") or event
    users = {ident(message, "user"), ident(event, "inviter"), ident(obj(message, "edited"), "user")}
    words = text(message, "text")
    users |= mentioned_users(words)
    channels = unnamed_channels(words)
    channels.add(ident(event, "channel"))
    return Lookups(frozenset(users - {""}), frozenset(channels - {""}))


def lookups_for_interaction(body: Payload) -> Lookups:
    user = _id(body, "user") or ident(body, "user_id")
    channel = _id(body, "channel") or ident(obj(body, "container"), "channel_id")
    return Lookups(frozenset({user} - {""}), frozenset({channel} - {""}))


# ---------------------------------------------------------------------------
# Events API


def from_event(body: Payload, me: Me, names: Names, now: datetime) -> InboundEvent | None:
    event = obj(body, "event")
    event_id = token(body, "event_id")
    if not event_id:
        return None  # without Slack's id a retry could not be recognised
    team = ident(body, "team_id") or ident(event, "team") or me.team_id
    match word(event, "type"):
        case "message":
            return _message(event_id, event, team, me, names, now)
        case "app_mention":
            return _mention(event_id, event, team, me, names, now)
        case "member_joined_channel":
            return _joined(event_id, event, team, me, names, now)
        case "member_left_channel" if ident(event, "user") == me.user_id:
            return BotRemovedFromChannel(event_id, _channel(event, team, names), _at(event, now))
        case "channel_left" | "group_left":  # sent to copbot when it is removed
            return BotRemovedFromChannel(event_id, _channel(event, team, names), _at(event, now))
        case "app_home_opened" if word(event, "tab") == "home":
            user = _user(required(ident(event, "user"), "user"), names)
            return HomeOpened(event_id, user, _at(event, now))
    return None


def _message(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    subtype = word(event, "subtype")
    if subtype == "message_changed":
        return _edited(event_id, event, team, me, names, now)
    if subtype == "message_deleted":
        return _deleted(event_id, event, team, me, names, now)
    if subtype in CONVERTED:
        channel = _channel(event, team, names)
        return ChannelVisibilityChanged(event_id, channel, CONVERTED[subtype], _at(event, now))
    if subtype in RENAMED:
        name = text(event, "name", NAME_LIMIT)
        if not name:
            return None
        channel = replace(_channel(event, team, names), name=name)
        return ChannelRenamed(event_id, channel, _at(event, now))
    if subtype not in SPOKEN or me.wrote(event):
        return None
    at = required(ts(event, "ts"), "ts")
    ref = _ref(_channel(event, team, names), at, ts(event, "thread_ts"))
    author, from_bot = _author(event, names)
    if ref.channel.is_direct and not from_bot:
        # copbot's direct conversation has nobody else in it: what people say there is for
        # copbot, with or without /cop or @copbot (``help``, ``search privilege``), as on
        # Teams and the playground.
        said = text(event, "text")
        asked = after_mention(said, me.user_id)
        words = command_text(_without_prefix(said if asked is None else asked))
        return CommandReceived(event_id, Origin(author, ref.channel), words, _at(event, now))
    if not from_bot and after_mention(text(event, "text"), me.user_id) is not None:
        # Delivered again as an app_mention, which carries it: a command is never kept,
        # and a reply that only names copbot is kept from there (see _mention). One that
        # names copbot in passing ("Hey @copbot …") is kept from here, as any message.
        return None
    words = plain_text(text(event, "text"), names.users, names.channels)
    return MessagePosted(event_id, ref, author, words, _at(event, now), from_bot)


def _without_prefix(words: str) -> str:
    first, _, rest = words.strip().partition(" ")
    return rest if first.lower() in ("/cop", "cop") else words


def _edited(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    message = obj(event, "message")
    previous = obj(event, "previous_message")
    if me.wrote(message):
        return None
    root = ts(message, "thread_ts") or ts(previous, "thread_ts")
    at = required(ts(message, "ts") or ts(previous, "ts"), "message.ts")
    ref = _ref(_channel(event, team, names), at, root)
    if word(message, "subtype") == "tombstone":
        # A thread's first message, deleted while it has replies, stays as a tombstone.
        return MessageDeleted(event_id, ref, _at(event, now))
    words = text(message, "text")
    if "text" in previous and words == text(previous, "text"):
        return None  # a link preview or attachment changed, not the words
    edited = obj(message, "edited")
    editor = ident(edited, "user") or ident(message, "user")
    when = _at(edited, now) if ts(edited, "ts") else _at(event, now)
    author = ident(message, "user") or ident(previous, "user")
    # A bot's message is never kept, so an edit of one names no poster to keep it under.
    by_bot = any(
        ident(m, "bot_id") or word(m, "subtype") == "bot_message" for m in (message, previous)
    )
    # As edited, the message may start with a mention of copbot, and so be a command: the
    # core then takes it out of the archive.
    asked = after_mention(words, me.user_id)
    return MessageEdited(
        event_id,
        ref,
        plain_text(words, names.users, names.channels),
        when,
        _user(editor, names) if editor else None,
        _user(author, names) if author and not by_bot else None,
        _at({"ts": at}, now),
        command_text(asked) if asked is not None and not ref.channel.is_direct else None,
    )


def _deleted(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    previous = obj(event, "previous_message")
    # copbot's own posts too: an anonymous reply a workspace admin deleted in Slack is
    # archived, and must leave the archive with the post.
    gone = required(ts(event, "deleted_ts") or ts(previous, "ts"), "deleted_ts")
    ref = _ref(_channel(event, team, names), gone, ts(previous, "thread_ts"))
    return MessageDeleted(event_id, ref, _at(event, now))


def _mention(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent | None:
    if me.wrote(event):
        return None
    channel = _channel(event, team, names)
    root = ts(event, "thread_ts")
    asked = after_mention(text(event, "text"), me.user_id)
    if asked is None:
        return None  # copbot named in passing: the message event keeps it as any other
    user = _user(required(ident(event, "user"), "user"), names)
    origin = Origin(user, channel, ThreadRef(channel, root) if root else None)
    words = command_text(asked)
    author, from_bot = _author(event, names)
    said = None
    if not from_bot and not channel.is_direct:
        # The message everyone in the channel reads, which _message leaves to this: if it
        # is no command ("@copbot thanks, …"), the core keeps it as the reply it is.
        ref = _ref(channel, required(ts(event, "ts"), "ts"), root)
        spoken = plain_text(text(event, "text"), names.users, names.channels)
        said = MessagePosted(f"said:{event_id}", ref, author, spoken, _at(event, now))
    return CommandReceived(event_id, origin, words, _at(event, now), said)


def _joined(
    event_id: str, event: Payload, team: str, me: Me, names: Names, now: datetime
) -> InboundEvent:
    channel = _channel(event, team, names)
    user = required(ident(event, "user"), "user")
    at = _at(event, now)
    if user == me.user_id:
        inviter = ident(event, "inviter")
        return BotAddedToChannel(event_id, channel, at, _user(inviter, names) if inviter else None)
    return MemberJoined(event_id, channel, _user(user, names), at)


# ---------------------------------------------------------------------------
# Slash commands and interactivity


def from_command(form: Payload, names: Names, now: datetime) -> CommandReceived | None:
    """``/cop <text>``, from the slash command's form fields."""
    trigger = token(form, "trigger_id")
    channel_id = ident(form, "channel_id")
    if not trigger or not channel_id:
        return None
    name = text(form, "channel_name", NAME_LIMIT)
    direct = channel_id.startswith("D") or name == "directmessage"
    channel = ChannelRef(
        PLATFORM,
        channel_id,
        ident(form, "team_id"),
        names.channels.get(channel_id, "") if name in PRIVATE_CHANNEL_NAMES else name,
        ChannelKind.DIRECT if direct else ChannelKind.CHANNEL,
    )
    user_id = required(ident(form, "user_id"), "user_id")
    handle = text(form, "user_name", NAME_LIMIT)
    user = UserRef(PLATFORM, user_id, names.users.get(user_id) or handle)
    root = ts(form, "thread_ts")
    thread = ThreadRef(channel, root) if root else None
    words = command_text(text(form, "text"))
    return CommandReceived(f"cmd:{trigger}", Origin(user, channel, thread, trigger), words, now)


def from_block_actions(body: Payload, names: Names, now: datetime) -> ButtonPressed | None:
    actions = objects(body, "actions")
    trigger = token(body, "trigger_id")
    if not actions or not trigger:
        return None
    action = actions[0]
    team = _team(body)
    user = _person(body, names)
    container = obj(body, "container")
    ref: MessageRef | None = None
    thread: ThreadRef | None = None
    if word(container, "type") == "message":
        channel_id = ident(container, "channel_id") or _id(body, "channel")
        name = text(obj(body, "channel"), "name", NAME_LIMIT)
        channel = _channel_of(required(channel_id, "channel"), team, names, name)
        message = obj(body, "message")
        at = ts(container, "message_ts") or ts(message, "ts")
        root = ts(message, "thread_ts") or ts(container, "thread_ts")
        # A thread's first message (an announcement with replies) is in the channel: an
        # answer into its thread would hide where nobody pressing it is looking.
        thread = ThreadRef(channel, root) if root and root != at else None
        if not flag(container, "is_ephemeral"):
            ref = _ref(channel, required(at, "message_ts"), root)
    else:
        # A button in a modal or the home tab: there is no channel, so answers go by DM.
        channel = _nowhere(team)
    value = text(action, "value") or text(obj(action, "selected_option"), "value")
    return ButtonPressed(
        f"action:{trigger}",
        Origin(user, channel, thread, trigger),
        text(action, "action_id", NAME_LIMIT),
        value,
        _at({"ts": ts(action, "action_ts")}, now),
        ref,
    )


def from_view_submission(body: Payload, names: Names, now: datetime) -> FormSubmitted | None:
    view = obj(body, "view")
    view_id = token(view, "id")
    if not view_id:
        return None
    came_from = metadata.decode(text(view, "private_metadata", metadata.LIMIT), _team(body))
    if came_from.anonymous:
        # Dropped here, before the event exists: nothing downstream can keep who it was.
        origin = Origin(UserRef.anonymous(PLATFORM), came_from.channel, came_from.thread)
        origin = origin.anonymised()
    else:
        user = _person(body, names)
        origin = Origin(user, came_from.channel, came_from.thread, token(body, "trigger_id"))
    values = submission_values(obj(obj(view, "state"), "values"))
    form_id = text(view, "callback_id", NAME_LIMIT)
    return FormSubmitted(f"view:{view_id}", origin, form_id, values, now, came_from.context)


def submission_values(state: Payload) -> tuple[tuple[str, str], ...]:
    """``view.state.values`` as (field id, value) pairs; copbot names each block after its field."""
    pairs = []
    for block_id, elements in state.items():
        if not isinstance(elements, OBJECT):
            raise Malformed("state.values holds a block that is not an object")
        for element in list(elements.values())[:1]:
            if not isinstance(element, OBJECT):
                raise Malformed("state.values holds an input that is not an object")
            pairs.append((clean(block_id), _input_value(element)))
    return tuple(pairs)


def _input_value(element: Payload) -> str:
    match word(element, "type"):
        case "static_select" | "radio_buttons" | "external_select":
            return text(obj(element, "selected_option"), "value")
        case "datetimepicker":
            stamp = element.get("selected_date_time")
            if stamp is None:
                return ""
            if type(stamp) is not int or not 0 <= stamp < LAST_SECOND:
                raise Malformed("selected_date_time is not a time")
            return datetime.fromtimestamp(stamp, UTC).isoformat()
        case "datepicker":
            return text(element, "selected_date", NAME_LIMIT)
        case "timepicker":
            return text(element, "selected_time", NAME_LIMIT)
        case "checkboxes":
            return ",".join(text(o, "value") for o in objects(element, "selected_options"))
    return text(element, "value").strip()


# ---------------------------------------------------------------------------
# Pieces


def _user(user_id: str, names: Names) -> UserRef:
    return UserRef(PLATFORM, user_id, names.users.get(user_id, ""))


def _person(body: Payload, names: Names) -> UserRef:
    """The person in an interactivity payload, named by lookup or else by their Slack handle."""
    ref = _user(required(_id(body, "user"), "user"), names)
    user = body.get("user")
    if ref.name or not isinstance(user, OBJECT):
        return ref
    return UserRef(
        PLATFORM, ref.id, text(user, "name", NAME_LIMIT) or text(user, "username", NAME_LIMIT)
    )


def _author(event: Payload, names: Names) -> tuple[UserRef, bool]:
    if ident(event, "bot_id") or word(event, "subtype") == "bot_message":
        label = text(obj(event, "bot_profile"), "name", NAME_LIMIT) or text(
            event, "username", NAME_LIMIT
        )
        bot = required(ident(event, "user") or ident(event, "bot_id"), "bot_id")
        return UserRef(PLATFORM, bot, names.users.get(bot) or label), True
    profile = obj(event, "user_profile")
    user = _user(required(ident(event, "user"), "user"), names)
    name = (
        user.name
        or text(profile, "display_name", NAME_LIMIT)
        or text(profile, "real_name", NAME_LIMIT)
    )
    return UserRef(PLATFORM, user.id, name), False


def _channel(event: Payload, team: str, names: Names) -> ChannelRef:
    channel_id = required(ident(event, "channel"), "channel")
    kind = ChannelKind.DIRECT if word(event, "channel_type") == "im" else None
    return _channel_of(channel_id, team, names, "", kind)


def _channel_of(
    channel_id: str,
    team: str,
    names: Names,
    name: str = "",
    kind: ChannelKind | None = None,
) -> ChannelRef:
    if kind is None:
        kind = ChannelKind.DIRECT if channel_id.startswith("D") else ChannelKind.CHANNEL
    label = "" if name in PRIVATE_CHANNEL_NAMES else name
    return ChannelRef(PLATFORM, channel_id, team, label or names.channels.get(channel_id, ""), kind)


def _nowhere(team: str) -> ChannelRef:
    return ChannelRef(PLATFORM, "", team, "", ChannelKind.DIRECT)


def _ref(channel: ChannelRef, at: str, root: str) -> MessageRef:
    return MessageRef(channel, at, root if root and root != at else None)


def _at(payload: Payload, now: datetime) -> datetime:
    # Checked by the pattern: at most ten digits of seconds, so always a valid time.
    stamp = ts(payload, "ts") or ts(payload, "event_ts")
    return datetime.fromtimestamp(float(stamp), UTC) if stamp else now


def _id(body: Payload, key: str) -> str:
    """An id given either as itself or as an object's ``id`` (``user``, ``team``, ``channel``)."""
    value = body.get(key)
    return ident(value, "id") if isinstance(value, OBJECT) else ident(body, key)


def _team(body: Payload) -> str:
    return _id(body, "team") or ident(obj(body, "user"), "team_id")
