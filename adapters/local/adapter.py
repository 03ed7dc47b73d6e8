"""The playground adapter: the browser page is the platform, this module its server side.

It behaves like the real platforms as far as the core can tell: people's messages become
``MessagePosted`` events, ``/cop …`` becomes a ``CommandReceived``, buttons and forms come
back as ``ButtonPressed`` and ``FormSubmitted``, and everything goes through the durable
inbox like Slack's and Teams' events do.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.local import links
from adapters.local.answers import PAGE_HEADERS, Handler, failsafe, taken_not_shown
from adapters.local.changes import Changes
from adapters.local.guard import Served
from adapters.local.open_forms import OpenForms
from adapters.local.render import form_html, message_json, persona_json
from adapters.local.requests import (
    BadRequest,
    check_form,
    field,
    json_body,
    local_address,
    message_text,
    storable,
)
from adapters.local.world import (
    BOT,
    CHANNELS,
    COMMAND,
    PERSONAS,
    PLATFORM,
    PRIVATE_CHANNELS,
    Persona,
    command_in,
    names_copbot,
)
from bot.codec import dumps
from bot.errors import WhyRefused, never_refused
from bot.logs import stack_only
from bot.model import (
    BotAddedToChannel,
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    CommandReceived,
    Form,
    FormSubmitted,
    InboundEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    OutgoingMessage,
    Role,
    ThreadRef,
    UserRef,
)
from bot.ports import (
    Capability,
    Clock,
    EventSink,
    FormInvalid,
    Memberships,
    PlaygroundMessage,
    PlaygroundRepository,
)
from bot.timefmt import UK

log = logging.getLogger(__name__)

HISTORY = 300


class LocalAdapter:
    platform = PLATFORM
    command_prefix = COMMAND
    app_name = "copbot"  # the playground's own, never renamed
    capabilities = frozenset(
        {
            Capability.PRIVATE_REPLIES,
            Capability.FORMS,
            Capability.PERMALINKS,
            Capability.READS_LINKS,
            Capability.CHANNEL_VISIBILITY,
        }
    )

    def __init__(
        self,
        store: PlaygroundRepository,
        clock: Clock,
        channels: Sequence[str] = CHANNELS,
        personas: Sequence[Persona] = PERSONAS,
        base_url: str = "",
        private_channels: Mapping[str, frozenset[str]] = PRIVATE_CHANNELS,
        timezone: ZoneInfo = UK,
        why_refused: WhyRefused = never_refused,
    ) -> None:
        # why_refused: storage's reading of a fault (see WhyRefused), as this adapter knows
        # no storage.
        self._tz = timezone
        self._why_refused = why_refused
        self._store = store
        self._clock = clock
        self._base_url = base_url.rstrip("/")  # where the page is, for links in messages
        self._private = {name: frozenset(members) for name, members in private_channels.items()}
        self._channels = tuple(channels) + tuple(c for c in self._private if c not in channels)
        self._personas = {p.id: p for p in personas}
        self._sink: EventSink | None = None
        self._forms = OpenForms()
        self._changes = Changes()
        self._role_of: Callable[[str], Awaitable[Role]] | None = None

    def show_roles_from(self, role_of: Callable[[str], Awaitable[Role]]) -> None:
        """Where the persona picker reads roles from: copbot's own, which may have changed
        since the persona started with theirs."""
        self._role_of = role_of

    @property
    def personas(self) -> list[Persona]:
        return list(self._personas.values())

    # -- the ChatAdapter protocol -----------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        def g(handler: Handler) -> Handler:
            return self.guarded(failsafe(handler, self._why_refused))

        return [
            web.get("/", g(self._page)),
            web.get("/static/{name}", g(self._static)),
            web.get("/api/playground/state", g(self._state)),
            web.get("/api/playground/events", g(self._changes.stream)),
            web.post("/api/playground/messages", g(self._post_message)),
            web.post("/api/playground/messages/{id}/edit", g(self._edit_message)),
            web.post("/api/playground/messages/{id}/delete", g(self._delete_message)),
            web.post("/api/playground/messages/{id}/dismiss", g(self._dismiss)),
            web.post("/api/playground/actions", g(self._press)),
            web.post("/api/playground/forms/{token}", g(self._submit)),
            web.post("/api/playground/forms/{token}/close", g(self._close_form)),
        ]

    def guarded(self, handler: Handler) -> Handler:
        """``handler``, answering only requests addressed to copbot (see guard.py): every
        playground route, and the web console's while the playground is on. The
        playground's state-changing routes also read their body through _json, which
        checks Origin."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            served = Served(self._base_url, local_address(request))
            if not served.accepts(request.headers.get("Host")):
                log.info("the playground refused a request addressed to another host")
                raise web.HTTPMisdirectedRequest(
                    text=json.dumps({"error": "The playground only answers at its own address."}),
                    content_type="application/json",
                )
            return await handler(request)

        return guarded

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        for name in self._channels:
            await sink(BotAddedToChannel(f"joined:{name}", self._channel(name), self._now()))

    async def stop(self) -> None:
        self._sink = None

    async def end_streams(self) -> None:
        """copbot is stopping: open pages' event streams end now (a page reconnects)."""
        await self._changes.close()

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        return await self._bot_says(channel, message)

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        return await self._bot_says(thread.channel, message, thread_root=thread.root_id)

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        return await self._bot_says(self._direct(user.id), message)

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        root = origin.thread.root_id if origin.thread else None
        await self._bot_says(origin.channel, message, root, visible_to=origin.user.identity)

    async def open_form(self, origin: Origin, form: Form) -> None:
        self._forms.open(form, origin)
        await self._changes.notify()

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        await self._store.edit(ref.id, dumps(message), self._now())
        await self._changes.notify()

    async def delete(self, ref: MessageRef) -> None:
        await self._store.delete(ref.id)
        await self._changes.notify()

    async def permalink(self, ref: MessageRef) -> str:
        return self._link(ref.channel.id, ref.thread_root, ref.id)

    def _link(self, channel: str, thread_root: str | None, message: str) -> str:
        """A message's link, as its menu's Copy link gives it and `remove` reads it."""
        root = f"&thread={thread_root}" if thread_root else ""
        return f"{self._base_url}/?channel={quote(channel)}{root}#{message}"

    def message_at(self, link: str) -> MessageRef | None:
        return links.message_at(link, self._channels, urlsplit(self._base_url).netloc)

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        if user.platform != PLATFORM or user.id not in self._personas:
            return None
        return Memberships(frozenset(c for c in self._channels if self._may_see(user.id, c)))

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        if channel.platform != PLATFORM or channel.id not in self._channels:
            return None
        return channel.id in self._private

    def _may_see(self, persona_id: str, channel: str) -> bool:
        return channel not in self._private or persona_id in self._private[channel]

    def _may_read(self, persona: Persona, message: PlaygroundMessage) -> bool:
        """A message this persona's page shows: in a channel they see or their own direct
        conversation, and not an answer meant for someone else."""
        mine = self._direct(persona.id).id
        in_view = message.channel == mine or (
            message.channel in self._channels and self._may_see(persona.id, message.channel)
        )
        return in_view and message.visible_to in (None, persona.user.identity)

    # -- speaking -----------------------------------------------------------------

    async def _bot_says(
        self,
        channel: ChannelRef,
        message: OutgoingMessage,
        thread_root: str | None = None,
        visible_to: str | None = None,
    ) -> MessageRef:
        stored = await self._store.add(
            PlaygroundMessage(
                "",
                channel.id,
                BOT.identity,
                BOT.name,
                dumps(message),
                self._now(),
                thread_root,
                visible_to,
            )
        )
        await self._changes.notify()
        return MessageRef(channel, stored.id, thread_root)

    async def _emit(self, event: Any) -> bool:
        """Hand ``event`` on; False when it was handed on before (the same form sent twice)."""
        if self._sink is None:
            raise web.HTTPServiceUnavailable(text="copbot is starting or stopping; try again")
        return await self._sink(event)

    # -- the page's API -----------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=_asset("index.html"), content_type="text/html", headers=PAGE_HEADERS
        )

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix not in types or "/" in name:
            raise web.HTTPNotFound()
        try:
            return web.Response(text=_asset(name), content_type=types[suffix], headers=PAGE_HEADERS)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None

    async def _state(self, request: web.Request) -> web.StreamResponse:
        persona = self._persona(request.query.get("as", ""))
        channel = request.query.get("channel", self._channels[0])
        if channel != self._direct(persona.id).id and not self._visible(persona, channel):
            raise BadRequest(f"There's no channel called #{channel} here.")
        messages = await self._store.conversation(channel, persona.user.identity, HISTORY)
        return web.json_response(
            {
                "version": self._changes.version,
                "me": persona_json(persona, await self._role(persona)),
                "personas": [persona_json(p, await self._role(p)) for p in self._personas.values()],
                "channels": [
                    {"id": c, "name": f"#{c}" + (" (private)" if c in self._private else "")}
                    for c in self._channels
                    if self._may_see(persona.id, c)
                ],
                "direct": {"id": self._direct(persona.id).id, "name": "copbot (direct)"},
                "channel": channel,
                "messages": [
                    message_json(m, persona.user.identity, self._tz)
                    | {"link": self._link(m.channel, m.thread_root, m.id)}
                    for m in messages
                ],
                "forms": [
                    {"token": f.token, "html": form_html(f.form, f.token)}
                    for f in self._forms.on_page(persona.id, request.query.get("page", ""))
                ],
            }
        )

    async def _post_message(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        persona = self._persona(body.get("as", ""))
        channel = self._channel_for(persona, field(body, "channel"))
        text = message_text(body)
        root = field(body, "thread_root") or None
        if not text:
            raise BadRequest("Type a message first.")
        if root is not None:
            parent = await self._store.get(root)
            if parent is None or parent.channel != channel.id or parent.thread_root:
                raise BadRequest("That thread isn't there any more.")
        thread = ThreadRef(channel, root) if root else None
        command = command_in(self._personas.values(), text, channel)
        # "@copbot …" in a channel is a message there, as on Slack and Teams: shown to
        # everyone, and kept as a reply if it is no command; "/cop …" is a slash command.
        spoken = command is not None and not channel.is_direct and names_copbot(text)
        if command is not None and not spoken:
            origin = Origin(persona.user, channel, thread)
            await self._emit(
                CommandReceived(f"cmd:{secrets.token_hex(8)}", origin, command, self._now())
            )
            return web.json_response({"ok": True, "command": True})
        stored = await self._store.add(
            PlaygroundMessage(
                "", channel.id, persona.user.identity, persona.name, text, self._now(), root
            )
        )
        await self._changes.notify()
        ref = MessageRef(channel, stored.id, root)
        posted = MessagePosted(f"msg:{stored.id}", ref, persona.user, text, self._now())
        said: InboundEvent = posted
        if command is not None:
            origin = Origin(persona.user, channel, thread)
            said = CommandReceived(f"cmd:{stored.id}", origin, command, posted.at, posted)
        try:
            await self._emit(said)
        except Exception:
            # Slack would send it to copbot again; the playground can't, so the message
            # goes, and stays in the box to send again: never shown, yet not kept.
            await self._unsay(stored.id)
            raise
        if command is not None:
            return web.json_response({"ok": True, "command": True, "id": stored.id})
        return web.json_response({"ok": True, "id": stored.id})

    async def _unsay(self, message_id: str) -> None:
        try:
            await self._store.delete(message_id)
        except Exception as error:  # the playground's file refuses too: it stays, unkept
            log.error("a playground message copbot didn't take stayed: %s", stack_only(error))
        await self._changes.notify()

    async def _own_message(
        self, request: web.Request, body: dict[str, Any]
    ) -> tuple[Persona, PlaygroundMessage]:
        persona = self._persona(body.get("as", ""))
        if not storable(request.match_info["id"]):
            raise BadRequest("That message isn't there any more.")
        message = await self._store.get(request.match_info["id"])
        if message is None or not self._may_read(persona, message):
            # As if it weren't there: a refusal would say it exists.
            raise BadRequest("That message isn't there any more.")
        if message.author != persona.user.identity:
            raise web.HTTPForbidden(
                text=json.dumps({"error": "You can only change your own messages."}),
                content_type="application/json",
            )
        return persona, message

    async def _edit_message(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        persona, message = await self._own_message(request, body)
        text = message_text(body)
        if not text:
            raise BadRequest("An edited message can't be empty; delete it instead.")
        at = self._now()
        channel = self._ref_of(message.channel)
        ref = MessageRef(channel, message.id, message.thread_root)
        event_id = f"edit:{message.id}:{secrets.token_hex(4)}"
        # As on Slack and Teams, the words as edited decide: starting with "@copbot", the
        # message may have become a command, which the core takes out of the archive.
        spoken = names_copbot(text) and not channel.is_direct
        asked = command_in(self._personas.values(), text, channel) if spoken else None
        edited = MessageEdited(
            event_id, ref, text, at, persona.user, persona.user, message.created_at, asked
        )
        # Handed to copbot first: one it can't take changes nothing on the page either.
        await self._emit(edited)
        try:
            await self._store.edit(message.id, text, at)
        except Exception as error:
            return taken_not_shown(error, "edit", "show it", self._why_refused)
        await self._changes.notify()
        return web.json_response({"ok": True})

    async def _delete_message(self, request: web.Request) -> web.StreamResponse:
        _, message = await self._own_message(request, await json_body(request))
        ref = MessageRef(self._ref_of(message.channel), message.id, message.thread_root)
        # Handed to copbot first, as an edit is: a deletion it didn't take is not shown done.
        await self._emit(MessageDeleted(f"delete:{message.id}", ref, self._now()))
        try:
            await self._store.delete(message.id)
        except Exception as error:
            return taken_not_shown(error, "deletion", "take the message away", self._why_refused)
        await self._changes.notify()
        return web.json_response({"ok": True})

    async def _dismiss(self, request: web.Request) -> web.StreamResponse:
        """A private answer goes away for the one person who could see it (Slack's
        "Dismiss"). The core never sees it: to the core it was a reply, not a message."""
        body = await json_body(request)
        persona = self._persona(body.get("as", ""))
        message_id = request.match_info["id"]
        message = await self._store.get(message_id) if storable(message_id) else None
        if message is None or message.visible_to != persona.user.identity:
            raise BadRequest("That message isn't there any more.")
        await self._store.delete(message.id)
        await self._changes.notify()
        return web.json_response({"ok": True})

    async def _press(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        persona = self._persona(body.get("as", ""))
        message = await self._store.get(field(body, "message_id"))
        if message is None or not self._may_read(persona, message):
            raise BadRequest("That message isn't there any more.")
        channel = self._ref_of(message.channel)
        ref = MessageRef(channel, message.id, message.thread_root)
        # The answer goes where the button was pressed, as Slack's does: under a message in
        # the channel, in the channel; in a thread the page has open, in that thread. (In
        # the message's own thread, unopened, it would be one more "reply" nobody reads.)
        root = message.thread_root or (message.id if body.get("in_thread") is True else None)
        origin = Origin(persona.user, channel, ThreadRef(channel, root) if root else None)
        await self._emit(
            ButtonPressed(
                f"press:{secrets.token_hex(8)}",
                origin,
                field(body, "action_id"),
                field(body, "value"),
                self._now(),
                ref,
            )
        )
        return web.json_response({"ok": True})

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        persona = self._persona(body.get("as", ""))
        token = request.match_info["token"]
        opened = self._forms.get(token)
        if opened is None or opened.origin.user.id != persona.id:
            raise BadRequest("That form has closed. Please open it again.")
        raw = body.get("values", {})
        if not isinstance(raw, dict) or not all(
            isinstance(v, str) and storable(v) for v in raw.values()
        ):
            raise BadRequest("Send the form's answers as text.")
        values = {str(k): v.strip() for k, v in raw.items()}
        errors = check_form(opened.form, values)
        if errors:
            return web.json_response({"ok": False, "errors": errors}, status=422)
        origin = opened.origin.anonymised() if opened.form.anonymous else opened.origin
        try:
            new = await self._emit(
                FormSubmitted(
                    f"form:{token}",
                    origin,
                    opened.form.id,
                    tuple((f.id, values.get(f.id, "")) for f in opened.form.fields),
                    self._now(),
                    opened.form.context,
                )
            )
        except FormInvalid as invalid:  # the form stays open, with their words
            return web.json_response({"ok": False, "errors": invalid.errors}, status=422)
        self._forms.close(token)
        if opened.form.thanks and new:  # a second send of it, meanwhile, thanks nobody again
            try:
                # Where they are: the channel they acted in, not a thread they may not have
                # open.
                await self.respond(
                    Origin(opened.origin.user, opened.origin.channel),
                    OutgoingMessage.of(opened.form.thanks),
                )
            except Exception as error:  # their answers are taken: the page thanks them
                log.error("a form's thanks couldn't be shown: %s", stack_only(error))
        await self._changes.notify()
        return web.json_response({"ok": True, "thanks": opened.form.thanks})

    async def _close_form(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)  # for its checks: closing a form changes a page
        persona = self._persona(body.get("as", ""))
        opened = self._forms.get(request.match_info["token"])
        if opened is not None and opened.origin.user.id != persona.id:
            raise BadRequest("That form has closed. Please open it again.")  # not theirs
        self._forms.close(request.match_info["token"])
        await self._changes.notify()
        return web.json_response({"ok": True})

    # -- helpers --------------------------------------------------------------------

    def _persona(self, persona_id: object) -> Persona:
        persona = self._personas.get(str(persona_id))
        if persona is None:
            raise BadRequest("Pick who you are from the list first.")
        return persona

    async def _role(self, persona: Persona) -> Role:
        return await self._role_of(persona.user.identity) if self._role_of else persona.role

    def _channel(self, name: str) -> ChannelRef:
        return ChannelRef(PLATFORM, name, "", name)

    def _direct(self, persona_id: str) -> ChannelRef:
        return ChannelRef(PLATFORM, f"@{persona_id}", "", "", ChannelKind.DIRECT)

    def _ref_of(self, channel_id: str) -> ChannelRef:
        if channel_id.startswith("@"):
            return self._direct(channel_id[1:])
        return self._channel(channel_id)

    def _channel_for(self, persona: Persona, channel_id: str) -> ChannelRef:
        if channel_id == self._direct(persona.id).id:
            return self._direct(persona.id)
        if not self._visible(persona, channel_id):
            raise BadRequest(f"There's no channel called #{channel_id} here.")
        return self._channel(channel_id)

    def _visible(self, persona: Persona, channel_id: str) -> bool:
        # A private channel is not there at all for those outside it, as on Slack.
        return channel_id in self._channels and self._may_see(persona.id, channel_id)

    def _now(self) -> datetime:
        return self._clock.now()


def _asset(name: str) -> str:
    return resources.files("adapters.local").joinpath("static", name).read_text("utf-8")
