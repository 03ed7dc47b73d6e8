"""Sending to Teams: posts as new conversations, replies, 1:1 chats opened on demand,
updates and deletions, through stored conversation references; every request paced within
Teams' published limits (pacing.py); 429/412/502/504 retried with backoff and jitter, a
timeout after sending, or an answer that can't be read, reported as OutcomeUnknown.

botbuilder is imported at the first send (``cloud`` builds its adapter then), not at start.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from adapters.teams import cards
from adapters.teams.conversations import Conversations, Place
from adapters.teams.pacing import Pacer
from adapters.teams.text import PLATFORM
from adapters.teams.translate import (
    split_conversation,
)
from bot.model import (
    ChannelKind,
    ChannelRef,
    MessageRef,
    OutgoingMessage,
    ThreadRef,
    UserRef,
)
from bot.ports import (
    DeliveryError,
    OutcomeUnknown,
    RetryObserver,
    unobserved_retry,
)

if TYPE_CHECKING:
    from botbuilder.core import TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter
    from botbuilder.schema import Activity
    from botframework.connector.aio import ConnectorClient

log = logging.getLogger(__name__)

CHANNEL_ID = "msteams"
RETRIED = frozenset({429, 412, 502, 504})
RETRIES = 4
BACKOFF = 0.5  # seconds, doubled each attempt, with jitter
MAX_WAIT = 30.0

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Delivery:
    def __init__(
        self,
        cloud: Callable[[], CloudAdapter],
        app_id: str,
        conversations: Conversations,
        sleep: Sleep,
        send_timeout: float,
        pacer: Pacer | None = None,
        observe_retry: RetryObserver = unobserved_retry,
        app_name: Callable[[], str] = lambda: "copbot",
    ) -> None:
        self._app_name = app_name  # as the organisation's Teams shows the app, now
        self._cloud = cloud  # botbuilder's adapter, built at its first use
        self._observe_retry = observe_retry
        self._app_id = app_id
        self._conversations = conversations
        self._sleep = sleep
        self._send_timeout = send_timeout
        self._pacer = pacer or Pacer()
        self._connectors: dict[str, ConnectorClient] = {}

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        if channel.is_direct:
            return await self.send_to(channel, message)
        known = self._conversations.channel(channel.id)
        if known is None:
            raise DeliveryError(
                f"I can't post in {where(channel)} yet: add {self._app_name()} to that "
                "channel's team in Teams (Apps, then Add to a team), then try again."
            )
        place = known.place
        from botbuilder.schema import ChannelAccount, ConversationParameters

        params = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=place.bot) if place.bot else None,
            channel_data={"channel": {"id": channel.id}, "tenant": {"id": place.tenant}},
            activity=_activity(cards.message_activity(message)),
            tenant_id=place.tenant,
        )

        async def create() -> str:
            connector = await self._connector(place.service_url)
            created = await connector.conversations.create_conversation(params)
            return str(created.id or "")

        conversation = await self._retrying("post", channel.id, create)
        _, root = split_conversation(conversation)
        if not root:
            raise OutcomeUnknown("Teams created a conversation but did not say its message id")
        return MessageRef(channel, root)

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        if thread.channel.is_direct:
            return await self.send_to(thread.channel, message)
        conversation = f"{thread.channel.id};messageid={thread.root_id}"
        place = self._channel_place(thread.channel)
        sent = await self.send_activity(place, conversation, cards.message_activity(message))
        return MessageRef(thread.channel, sent, thread.root_id)

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        channel = await self.direct(user)
        return await self.send_to(channel, message, user)

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        place, conversation = await self._message_place(ref)
        activity = _activity(cards.message_activity(message))
        activity.id = ref.id

        async def edit(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._retrying(
            "update", conversation, lambda: self._continue(place, conversation, edit)
        )

    async def delete(self, ref: MessageRef) -> None:
        place, conversation = await self._message_place(ref)

        async def remove(context: TurnContext) -> None:
            await context.delete_activity(ref.id)

        try:
            await self._retrying(
                "delete", conversation, lambda: self._continue(place, conversation, remove)
            )
        except DeliveryError:
            if self._last_status != 404:
                raise  # gone already is done, not failed

    async def permalink(self, ref: MessageRef) -> str:
        if ref.channel.is_direct:
            return ""
        known = self._conversations.channel(ref.channel.id)
        query = {"tenantId": ref.channel.workspace}
        if known is not None and known.place.group:
            query["groupId"] = known.place.group
        query["parentMessageId"] = ref.thread_root or ref.id
        if known is not None and known.name:
            query["channelName"] = known.name
        query["createdTime"] = ref.id
        return (
            f"https://teams.microsoft.com/l/message/{quote(ref.channel.id, safe='')}/"
            f"{quote(ref.id, safe='')}?{urlencode(query)}"
        )

    async def asking(
        self,
        what: str,
        place: Place,
        conversation: str,
        ask: Callable[[TurnContext], Awaitable[None]],
    ) -> None:
        """Ask Teams something in a turn of copbot's own (a connector client with its
        credentials), retried as sends are."""
        await self._retrying(what, conversation, lambda: self._continue(place, conversation, ask))

    # -- helpers --------------------------------------------------------------------

    async def _connector(self, service_url: str) -> ConnectorClient:
        """One connector client per service URL, kept. botbuilder's create_conversation
        builds two clients a call (a few ms of CPU each, in msrest's retry set-up): at
        Teams' 50 posts a second that was most of an announcement's time."""
        client = self._connectors.get(service_url)
        if client is None:
            from botframework.connector.auth import AuthenticationConstants

            cloud = self._cloud()
            identity = cloud.create_claims_identity(self._app_id)
            identity.claims[AuthenticationConstants.SERVICE_URL_CLAIM] = service_url
            auth = cloud.bot_framework_authentication
            client = await auth.create_connector_factory(identity).create(service_url, None)
            self._connectors[service_url] = client
        return client

    _last_status = 0

    def _channel_place(self, channel: ChannelRef) -> Place:
        known = self._conversations.channel(channel.id)
        if known is None:
            raise DeliveryError(
                f"I can't post in {where(channel)}: copbot isn't installed in its team."
            )
        return known.place

    async def _message_place(self, ref: MessageRef) -> tuple[Place, str]:
        if ref.channel.is_direct:
            return await self.direct_place(ref.channel, None), ref.channel.id
        root = ref.thread_root or ref.id
        return self._channel_place(ref.channel), f"{ref.channel.id};messageid={root}"

    async def direct_place(self, channel: ChannelRef, user: UserRef | None) -> Place:
        """The way to a 1:1 chat: its person's own (the service URL and tenant Teams gave
        with their messages), found by who they are or else by the chat; failing both, a
        channel's of the chat's own tenant, never another's."""
        person = await self._conversations.person(user.identity) if user is not None else None
        if person is None and channel.id:
            person = await self._conversations.chat(channel.id)
        if person is not None:
            return person
        place = self._conversations.any_place(channel.workspace)
        if place is None:
            raise DeliveryError("I can't reach that chat: copbot isn't installed in Teams yet.")
        return place

    async def direct(self, user: UserRef) -> ChannelRef:
        """The person's 1:1 chat with copbot, opened on demand with the tenant id."""
        if user.is_anonymous or not user.id:
            raise DeliveryError("I can't tell who to answer, so I can't open a chat.")
        person = await self._conversations.person(user.identity)
        if person is None:
            raise DeliveryError(
                f"I can't message {user.display} yet: Teams lets copbot start a chat only with "
                "someone who has talked to it or is in a team it is installed in."
            )
        if not person.conversation:
            from botbuilder.schema import ChannelAccount, ConversationParameters

            params = ConversationParameters(
                is_group=False,
                bot=ChannelAccount(id=person.bot) if person.bot else None,
                members=[ChannelAccount(id=person.account)],
                channel_data={"tenant": {"id": person.tenant}},
                tenant_id=person.tenant,
            )
            created: list[str] = []
            service_url = person.service_url
            cloud = self._cloud()

            async def opened(context: TurnContext) -> None:
                created.append(str(context.activity.conversation.id or ""))

            await self._retrying(
                "open a chat",
                person.account,
                lambda: cloud.create_conversation(
                    self._app_id, opened, params, CHANNEL_ID, service_url
                ),
            )
            person = replace(person, conversation=created[0] if created else "")
            if not person.conversation:
                raise OutcomeUnknown("Teams opened a chat but did not say its id")
            await self._conversations.remember_person(user.identity, person)
        return ChannelRef(PLATFORM, person.conversation, person.tenant, "", ChannelKind.DIRECT)

    async def send_to(
        self, channel: ChannelRef, message: OutgoingMessage, user: UserRef | None = None
    ) -> MessageRef:
        # The person's own place first: before copbot is in any team, it is the only one.
        place = await self.direct_place(channel, user)
        sent = await self.send_activity(place, channel.id, cards.message_activity(message))
        return MessageRef(channel, sent)

    async def send_activity(self, place: Place, conversation: str, doc: dict[str, Any]) -> str:
        activity = _activity(doc)
        sent: list[str] = []

        async def send(context: TurnContext) -> None:
            answer = await context.send_activity(activity)
            sent.append(str(answer.id) if answer is not None and answer.id else "")

        await self._retrying(
            "send", conversation, lambda: self._continue(place, conversation, send)
        )
        if not sent or not sent[0]:
            raise OutcomeUnknown("Teams accepted a message but did not say its id")
        return sent[0]

    async def _continue(
        self, place: Place, conversation: str, logic: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

        reference = ConversationReference(
            channel_id=CHANNEL_ID,
            service_url=place.service_url,
            bot=ChannelAccount(id=place.bot) if place.bot else None,
            conversation=ConversationAccount(id=conversation, tenant_id=place.tenant),
        )
        await self._cloud().continue_conversation(reference, logic, self._app_id)

    async def _retrying(self, what: str, conversation: str, call: Callable[[], Awaitable[T]]) -> T:
        # botbuilder loaded before any deadline starts: its first import takes a while.
        self._cloud()
        from azure.core.exceptions import DeserializationError
        from botbuilder.schema import ErrorResponseException as ConnectorError

        for attempt in range(RETRIES + 1):
            try:
                # The pacer's wait is not part of the deadline: only Teams' answer is.
                async with self._pacer.turn(conversation), asyncio.timeout(self._send_timeout):
                    return await call()
            except TimeoutError:
                # The request went out and no answer came back: Teams may have done it.
                raise OutcomeUnknown(f"Teams didn't answer in time ({what})") from None
            except DeserializationError:
                # A success whose answer came back cut short or garbled: it was done, so
                # trying again would do it twice.
                raise OutcomeUnknown(f"Teams' answer could not be read ({what})") from None
            except ConnectorError as e:
                status = int(getattr(e.response, "status_code", 0) or 0)
                self._last_status = status
                if status in RETRIED and attempt < RETRIES:
                    self._observe_retry(PLATFORM, str(status))
                    await self._sleep(_backoff(attempt, e.response))
                    continue
                refusal = _refusal_for(status)
                if refusal is None:
                    raise
                raise refusal from None
        raise AssertionError("unreachable")  # pragma: no cover


def _backoff(attempt: int, response: Any) -> float:
    retry_after = (getattr(response, "headers", None) or {}).get("Retry-After")
    try:
        wait = float(retry_after) if retry_after else BACKOFF * 2**attempt
    except ValueError:
        wait = BACKOFF * 2**attempt
    return float(min(MAX_WAIT, wait + random.uniform(0, wait / 2)))


def _refusal_for(status: int) -> DeliveryError | None:
    sentence = {
        403: "Teams refused: copbot may have been removed from that team or chat, or isn't "
        "allowed to post there. Ask a Teams admin to check the app is installed.",
        404: "That conversation or message isn't there any more, so I couldn't change it.",
    }.get(status)
    return DeliveryError(sentence) if sentence else None


def _activity(doc: dict[str, Any]) -> Activity:
    from botbuilder.schema import Activity, ActivityTypes

    activity: Activity = Activity().deserialize(doc)
    activity.type = ActivityTypes.message
    return activity


def where(channel: ChannelRef) -> str:
    if channel.is_direct:
        return "our chat"
    return channel.name or "that channel"
