"""The Slack adapter: slack-bolt on the shared aiohttp server (or Socket Mode) for what comes
in, the Web API for what goes out.

Inbound, every listener does the same three things in this order: translate the payload
(``translate.py``), commit the event to the durable inbox, and only then acknowledge. bolt runs
with ``process_before_response``, so Slack's 200 (or Socket Mode's envelope ack) leaves after
the commit: an event Slack thinks delivered is on disk, and an event it retries (same
``event_id``) is recognised by the inbox and acknowledged again without a second effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks, inbound, links, membership, metadata
from adapters.slack.directory import Directory
from adapters.slack.errors import NOT_HERE, code_of, delivery_error, place
from adapters.slack.pacing import Pacer
from adapters.slack.schema import Malformed, ident, text
from adapters.slack.startup import socket_address, who_am_i
from adapters.slack.translate import (
    NAME_LIMIT,
    PRIVATE_CHANNEL_NAMES,
    Lookups,
    Me,
    Names,
    event_teams,
    from_block_actions,
    from_command,
    from_event,
    from_view_submission,
    interaction_teams,
    lookups_for_event,
    lookups_for_interaction,
)
from adapters.slack.wiring import make_bolt, make_client
from bot.model import (
    BotAddedToChannel,
    ChannelKind,
    ChannelRef,
    ChannelRenamed,
    Context,
    Form,
    InboundEvent,
    MessageRef,
    Origin,
    OutgoingMessage,
    ThreadRef,
    UserRef,
)
from bot.ports import (
    Capability,
    Clock,
    DeliveryError,
    EventSink,
    FormInvalid,
    Memberships,
    OutcomeUnknown,
    RetryObserver,
    unobserved_retry,
)

if TYPE_CHECKING:
    from adapters.slack.socket import CheckedSocketModeHandler

log = logging.getLogger(__name__)

PLATFORM = "slack"
PATH = "/slack/events"
# How far back find_post looks: 2 pages of 100 messages. It runs after a restart, for posts
# made moments before, so a channel that has had 200 messages since is beyond belief.
FIND_PAGES = 2

# copbot serves one community: one workspace's payloads, whoever else shares the app.
FOREIGN = "refused a Slack %s from another workspace than copbot's (nothing kept)"
ELSEWHERE = "This copbot serves another Slack workspace, so it can't help you here."


class Credentials(Protocol):
    """What the adapter needs from configuration (``bot.settings.SlackSettings`` fits)."""

    @property
    def bot_token(self) -> str: ...

    @property
    def signing_secret(self) -> str: ...

    @property
    def app_token(self) -> str: ...

    @property
    def api_url(self) -> str: ...


class SlackAdapter:
    platform = PLATFORM
    command_prefix = "/cop"
    capabilities = frozenset(
        {
            Capability.PRIVATE_REPLIES,
            Capability.FORMS,
            Capability.PERMALINKS,
            Capability.READS_LINKS,
            Capability.HOME_TAB,
            Capability.CHANNEL_VISIBILITY,
            Capability.FIND_POSTS,
        }
    )

    def __init__(
        self,
        credentials: Credentials,
        clock: Clock,
        *,
        timezone: tzinfo = UTC,
        pacer: Pacer | None = None,
        name_budget: float = 1.0,
        observe_retry: RetryObserver = unobserved_retry,
    ) -> None:
        self._client: AsyncWebClient = make_client(
            credentials.bot_token, credentials.api_url, observe_retry
        )
        self._clock = clock
        self._timezone = timezone
        self._pacer = pacer or Pacer()
        self._directory = Directory(self._client, name_budget)
        self._app_token = credentials.app_token
        self._verifier = (
            SignatureVerifier(credentials.signing_secret)
            if credentials.signing_secret and not self._app_token
            else None
        )
        self._bolt = make_bolt(
            self._client,
            credentials.signing_secret,
            on_event=self._on_event,
            on_command=self._on_command,
            on_action=self._on_action,
            on_view=self._on_view,
        )
        self._socket: CheckedSocketModeHandler | None = None
        self._sink: EventSink | None = None
        self._me = Me("", "", "")
        self._direct: dict[str, str] = {}  # user id -> the id of copbot's DM with them

    @property
    def app_name(self) -> str:
        """The bot user's name, as auth.test gave it: a Slack admin may have named it."""
        return self._me.name

    @property
    def socket_mode(self) -> bool:
        return bool(self._app_token)

    # -- lifecycle ------------------------------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [] if self.socket_mode else [web.post(PATH, self._http)]

    async def start(self, sink: EventSink) -> None:
        # One connection pool for every Web API call (bolt's per-request clients share it
        # too), instead of a new connection and TLS handshake per call.
        self._client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._client.timeout)
        )
        try:
            self._me = await who_am_i(self._client)
            self._sink = sink
            if self.socket_mode:
                # Built here: the Socket Mode client needs a running event loop. Imported
                # here too: over HTTP, its client (and its websockets) is never loaded.
                from adapters.slack.socket import CheckedSocketModeHandler

                # The SDK's connect retries a refused app token forever: its first address
                # is asked for here, so that a wrong token stops copbot in one sentence.
                address = await socket_address(self._client, self._app_token)
                self._socket = CheckedSocketModeHandler(self._bolt, self._app_token)
                self._socket.client.wss_uri = address
                await self._socket.connect_async()  # type: ignore[no-untyped-call]
        except BaseException:
            await self.stop()  # nobody else will: the app stops only adapters that started
            raise
        log.info("connected to Slack workspace %s as @%s", self._me.team_id, self._me.name)

    async def stop(self) -> None:
        self._sink = None
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                async with asyncio.timeout(5):  # Slack gone quiet must not stop us stopping
                    await socket.close_async()  # type: ignore[no-untyped-call]
            except TimeoutError:
                log.warning("Slack's Socket Mode connection didn't close in time; leaving it")
        await self._directory.close()
        if self._client.session is not None:
            await self._client.session.close()
            self._client.session = None

    # -- inbound --------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if inbound.ssl_check(raw, request.content_type):
            log.debug("answered Slack's check of copbot's certificate")
            return web.Response(status=200)
        if self._verifier is None or not inbound.signed(self._verifier, raw, request.headers):
            # bolt would check too; checking first keeps a stranger's body out of every log.
            log.warning(
                "refused a request to %s: its Slack signature did not check out "
                "(%d bytes, not logged)",
                request.path,
                len(raw),
            )
            return web.json_response({"error": "invalid request"}, status=401)
        if self._sink is None:
            raise web.HTTPServiceUnavailable(text="copbot is starting or stopping")
        delivery = inbound.read(raw, request.content_type, request.charset)
        if isinstance(delivery, inbound.Refusal):
            log.warning("refused a signed Slack request: %s", delivery.reason)
            return web.json_response({"error": "invalid request"}, status=delivery.status)
        if delivery.is_json and delivery.payload.get("type") == inbound.RATE_LIMITED:
            log.warning(inbound.HELD_BACK)
            return web.Response(status=200)
        if delivery.is_json and delivery.payload.get("type") == "event_callback":
            # The busiest path (every message in every channel copbot is in) skips bolt's
            # dispatch, which costs more than the rest of the request: the signature is
            # checked above by the SDK's verifier, and the steps are the listener's own.
            await self._event(delivery.payload)
            return web.Response(status=200)
        try:
            bolt_request = AsyncBoltRequest(
                body=delivery.text,
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
            # bolt reads the team, user and channel from fields of any type, and trips on some.
            log.warning("refused a signed Slack request bolt could not read (%s)", type(e).__name__)
            return web.json_response({"error": "invalid request"}, status=400)
        return await to_aiohttp_response(await self._bolt.async_dispatch(bolt_request))

    async def _on_event(self, body: dict[str, Any], ack: AsyncAck) -> None:
        await self._event(body)
        await ack()

    async def _event(self, body: dict[str, Any]) -> None:
        event: InboundEvent | None = None  # stays None for a payload set aside
        with self._set_aside("event"):
            if self._me.foreign(*event_teams(body)):
                log.warning(FOREIGN, "event")
                return
            names = await self._names(lookups_for_event(body))
            event = from_event(body, self._me, names, self._clock.now())
            if isinstance(event, BotAddedToChannel | ChannelRenamed) and event.channel.name:
                # Renamed (or joined): the messages that follow carry the name it has now.
                self._directory.remember_channel(event.channel.id, event.channel.name)
        await self._accept(event)

    async def _on_command(self, body: dict[str, Any], ack: AsyncAck) -> None:
        event: InboundEvent | None = None  # stays None for a payload set aside
        with self._set_aside("slash command"):
            if self._me.foreign(ident(body, "team_id")):
                log.warning(FOREIGN, "slash command")
                await ack(ELSEWHERE)
                return
            name = text(body, "channel_name", NAME_LIMIT)
            if name not in PRIVATE_CHANNEL_NAMES:
                self._directory.remember_channel(ident(body, "channel_id"), name)
            names = await self._names(Lookups(frozenset({ident(body, "user_id")}) - {""}))
            event = from_command(body, names, self._clock.now())
        await self._accept(event)
        await ack()

    async def _on_action(self, body: dict[str, Any], ack: AsyncAck) -> None:
        event: InboundEvent | None = None  # stays None for a payload set aside
        with self._set_aside("button press"):
            if self._me.foreign(*interaction_teams(body)):
                log.warning(FOREIGN, "button press")
                await ack()
                return
            names = await self._names(lookups_for_interaction(body))
            event = from_block_actions(body, names, self._clock.now())
        await self._accept(event)
        await ack()

    async def _on_view(self, body: dict[str, Any], ack: AsyncAck) -> None:
        event: InboundEvent | None = None  # stays None for a payload set aside
        with self._set_aside("form"):
            if self._me.foreign(*interaction_teams(body)):
                log.warning(FOREIGN, "form")
                await ack()
                return
            # No name lookups for a form: it may be anonymous, and its origin travelled with it.
            event = from_view_submission(body, Names(), self._clock.now())
        try:
            await self._accept(event)
        except FormInvalid as invalid:
            # The modal stays open with what they wrote, each message beside its field.
            await ack(response_action="errors", errors=blocks.field_errors(invalid.errors))
            return
        thanks = metadata.decode(_private_metadata(body), "").thanks if event else ""
        if thanks:
            await ack(response_action="update", view=blocks.thanks(thanks))
        else:
            await ack()  # an empty answer closes the modal

    async def _names(self, lookups: Lookups) -> Names:
        return Names(*await self._directory.names(lookups.users, lookups.channels))

    @contextmanager
    def _set_aside(self, what: str) -> Iterator[None]:
        """A payload copbot can't read is acknowledged (Slack would only send it again) and
        dropped, with one line saying why; the rest of the inbox goes on."""
        try:
            yield
        except Malformed as e:
            log.warning("set aside a Slack %s copbot could not read: %s", what, e)

    async def _accept(self, event: InboundEvent | None) -> None:
        if event is None:
            return
        if self._sink is None:
            # Unacknowledged, so Slack delivers it again once copbot is running.
            raise RuntimeError("copbot is not accepting Slack events right now")
        if not await self._sink(event):
            # Its kind, not its id (a trigger or view id), as on Teams: the platform's own
            # records tie that id to whoever pressed an anonymous form's button.
            log.info("Slack delivered a %s again; it was already accepted", type(event).__name__)

    # -- outbound -------------------------------------------------------------------

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        return MessageRef(channel, await self._say(channel, message))

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        ts = await self._say(thread.channel, message, thread_ts=thread.root_id)
        return MessageRef(thread.channel, ts, thread.root_id)

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        channel = await self._dm(user)
        return MessageRef(channel, await self._say(channel, message))

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        if origin.channel.is_direct or not origin.channel.id:
            # In a DM (or with no channel at all) a normal message is private and stays put.
            await self.send_direct(origin.user, message)
            return
        extra: dict[str, Any] = {"thread_ts": origin.thread.root_id} if origin.thread else {}
        try:
            # Not paced: Slack's one-a-second guidance is for chat.postMessage, and someone
            # is waiting for this answer.
            await self._client.chat_postEphemeral(
                channel=origin.channel.id,
                user=origin.user.id,
                **blocks.message_payload(message),
                **extra,
            )
        except SlackApiError as e:
            if code_of(e) not in NOT_HERE:
                raise
            # e.g. /cop in a private channel or a DM copbot isn't part of.
            log.info("answering by DM: Slack refused a private reply (%s)", code_of(e))
            where = self._named(origin.channel)
            note = Context(f"I couldn't answer you in {place(where)}, so I'm replying here.")
            await self.send_direct(origin.user, replace(message, blocks=(note, *message.blocks)))

    async def open_form(self, origin: Origin, form: Form) -> None:
        if not origin.handle:
            raise DeliveryError(
                "I can only open a form straight after you use /cop or press a button. "
                "Please try again that way."
            )
        view = blocks.modal(
            form,
            metadata.encode(form.context, origin, form.anonymous, form.thanks),
            self._timezone,
        )
        with self._refusals(origin.channel):
            await self._client.views_open(trigger_id=origin.handle, view=view)

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        with self._refusals(ref.channel):
            await self._client.chat_update(
                channel=ref.channel.id, ts=ref.id, **blocks.message_payload(message)
            )

    async def delete(self, ref: MessageRef) -> None:
        # Deleting a message that is already gone is done, not failed.
        with self._refusals(ref.channel, ignore=frozenset({"message_not_found"})):
            await self._client.chat_delete(channel=ref.channel.id, ts=ref.id)

    async def permalink(self, ref: MessageRef) -> str:
        try:
            answer = await self._client.chat_getPermalink(channel=ref.channel.id, message_ts=ref.id)
        except SlackApiError as e:
            log.info("Slack gave no permalink (%s)", code_of(e))
            return ""
        return str(answer.get("permalink") or "")

    def message_at(self, link: str) -> MessageRef | None:
        return links.message_at(link, self._me.team_id)

    async def publish_home(self, user: UserRef, message: OutgoingMessage) -> None:
        await self._client.views_publish(user_id=user.id, view=blocks.home_view(message))

    async def find_post(self, channel: ChannelRef, mark: str) -> MessageRef | None:
        """copbot's post carrying ``mark`` among the channel's newest messages, read through
        conversations.history with message metadata (where ``_say`` puts the mark)."""
        cursor = ""
        for _ in range(FIND_PAGES):
            answer = await self._client.conversations_history(
                channel=channel.id, limit=100, include_all_metadata=True, cursor=cursor or None
            )
            for message in answer.get("messages") or []:
                if self._me.wrote(message) and blocks.mark_of(message) == mark:
                    return MessageRef(channel, str(message.get("ts") or ""))
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return None

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        # One question for all of a person's channels: Slack answers it whole or not at all.
        channels = await membership.channels_of(self._client, user.id) if user.id else None
        return None if channels is None else Memberships(channels)

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        return await membership.is_private(self._client, channel.id) if channel.id else None

    # -- helpers --------------------------------------------------------------------

    async def _say(self, channel: ChannelRef, message: OutgoingMessage, **extra: Any) -> str:
        async with self._pacer.turn(channel.id):
            with self._refusals(channel):
                try:
                    answer = await self._client.chat_postMessage(
                        channel=channel.id,
                        unfurl_links=False,
                        unfurl_media=False,
                        **blocks.message_payload(message),
                        **blocks.mark_payload(message),
                        **extra,
                    )
                except aiohttp.ClientConnectorError:
                    raise  # never reached Slack: safe to try again
                except (TimeoutError, aiohttp.ClientError) as e:
                    # The request went out and no answer came back: Slack may have posted.
                    raise OutcomeUnknown(
                        f"Slack didn't answer whether the message was posted ({type(e).__name__})"
                    ) from None
        return str(answer["ts"])

    async def _dm(self, user: UserRef) -> ChannelRef:
        channel_id = self._direct.get(user.id)
        if channel_id is None:
            answer = await self._client.conversations_open(users=user.id)
            channel_id = str((answer.get("channel") or {}).get("id") or "")
            self._direct[user.id] = channel_id
        return ChannelRef(PLATFORM, channel_id, self._me.team_id, "", ChannelKind.DIRECT)

    @contextmanager
    def _refusals(
        self, channel: ChannelRef, ignore: frozenset[str] = frozenset()
    ) -> Iterator[None]:
        """Slack's refusals people can act on become a DeliveryError worded for them."""
        try:
            yield
        except SlackApiError as e:
            if code_of(e) in ignore:
                return
            refusal = delivery_error(e, self._named(channel), self._me.name)
            if refusal is None:
                raise
            raise refusal from e

    def _named(self, channel: ChannelRef) -> ChannelRef:
        if channel.name:
            return channel
        return replace(channel, name=self._directory.channel_name(channel.id))


def _private_metadata(body: dict[str, Any]) -> str:
    view = body.get("view")
    metadata_text = view.get("private_metadata") if isinstance(view, dict) else None
    return metadata_text if isinstance(metadata_text, str) else ""
