"""The Teams adapter: botbuilder's ``CloudAdapter`` on the shared aiohttp server at
``POST /api/messages`` for what comes in, the Bot Framework connector for what goes out.

Inbound, in this order: the token (``auth.py``: 401, or 503 while signing keys cannot be had),
the tenant allow-list (403, counted, nothing logged of the content), the turn: conversation
references remembered, the activity translated (``translate.py``) and committed to the
durable inbox, and only then the HTTP answer. A redelivered activity has the same event id,
so the inbox recognises it.

Card actions and dialogs, answered inside the HTTP turn, are ``invokes.py``'s: this module
hands them over, and tells it what the core does meanwhile (a form opened, a card updated,
a private answer, the press settled).

Outbound, Teams is not Slack: a post is a new conversation in the channel; there are no
messages only one person sees, so private answers go to the person's 1:1 chat with copbot;
and 429, 412, 502 and 504 are retried here with backoff and jitter (botbuilder does not),
while a timeout after a request went out is ``OutcomeUnknown``, never retried blindly.

botbuilder (with the connector's msrest, requests, msal, PyJWT and cryptography: some 640
modules, 24 MiB) is imported at its first use, not at start: checking a token, a turn, or
sending. Without an app id, plain messages, edits and deletions never need it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from adapters.teams import cards, links
from adapters.teams.auth import AppCredentials, Gate, Refused, Unavailable
from adapters.teams.conversations import Conversations, ConversationStore, Place
from adapters.teams.delivery import CHANNEL_ID, Delivery, Sleep, where
from adapters.teams.directory import Directory
from adapters.teams.installs import TeamInstalls
from adapters.teams.invokes import Invokes, Sealer
from adapters.teams.membership import ChannelMembership
from adapters.teams.text import DEFAULT_NAME, PLATFORM, own_name
from adapters.teams.translate import (
    Known,
    anonymous_submission,
    from_activity,
    is_personal,
    team_change,
    tenant_of,
    well_formed,
)
from adapters.teams.unauthenticated import LocalOnly
from bot.codec import parse_json
from bot.model import (
    ANONYMOUS_ID,
    ChannelRef,
    Context,
    Form,
    FormSubmitted,
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
    Memberships,
    RetryObserver,
    unobserved_retry,
)

if TYPE_CHECKING:
    from botbuilder.core import InvokeResponse, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter

log = logging.getLogger(__name__)
# msrest warns of every channelData field its models don't name (Teams sends several on
# each turn): no content, but a WARNING an admin would go looking into for nothing.
MSREST_LOG = "msrest.serialization"
UNKNOWN_ATTRIBUTE = "%s is not a known attribute of class %s and will be ignored"


class _KnownUnknowns(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != UNKNOWN_ATTRIBUTE


PATH = "/api/messages"
MAX_BODY = 256 * 1024  # Teams activities are a few KB; a card submission at most tens
SEND_TIMEOUT = 15.0
DIALOG_TIMEOUT = 5.0  # how long a task/fetch waits for the core's form; Teams gives up at ~15


class Credentials(AppCredentials, Protocol):
    """What the adapter needs from configuration (``bot.settings.TeamsSettings`` fits)."""

    @property
    def tenants(self) -> frozenset[str]: ...

    @property
    def service_urls(self) -> frozenset[str]: ...


class TeamsAdapter:
    platform = PLATFORM
    # No PRIVATE_REPLIES: Teams has no messages only one person sees.
    capabilities = frozenset(
        {
            Capability.FORMS,
            Capability.PERMALINKS,
            Capability.CHANNEL_VISIBILITY,
            Capability.READS_LINKS,
            Capability.ANSWERS_IN_TURN,
        }
    )

    def __init__(
        self,
        credentials: Credentials,
        store: ConversationStore,
        clock: Clock,
        public_url: str = "",
        *,
        sealer: Sealer,
        sleep: Sleep = asyncio.sleep,
        send_timeout: float = SEND_TIMEOUT,
        auth_timeout: float = 5.0,
        metadata_url: str = "",
        dialog_timeout: float = DIALOG_TIMEOUT,
        observe_retry: RetryObserver = unobserved_retry,
        name: str = DEFAULT_NAME,
    ) -> None:
        self._app_id = credentials.app_id
        self._tenants = credentials.tenants
        msrest_log = logging.getLogger(MSREST_LOG)  # not msrest itself: it loads at first use
        if not any(isinstance(f, _KnownUnknowns) for f in msrest_log.filters):
            msrest_log.addFilter(_KnownUnknowns())
        self._local_only = LocalOnly.of(public_url, credentials.service_urls)
        self._gate = Gate(
            credentials,
            timeout=auth_timeout,
            metadata_url=metadata_url,
        )
        self._cloud_adapter: CloudAdapter | None = None
        # As the app package named it (COPBOT_TEAMS_NAME), until a mention of copbot says
        # what Teams calls it now.
        self._name = name
        self._conversations = Conversations(store)
        self._delivery = Delivery(
            self._cloud,
            self._app_id,
            self._conversations,
            sleep,
            send_timeout,
            observe_retry=observe_retry,
            app_name=lambda: self._name,
        )
        self._membership = ChannelMembership(Directory(self._delivery), self._conversations, clock)
        self._clock = clock
        self._public_url = public_url
        self._sleep = sleep
        self._sink: EventSink | None = None
        self._invokes = Invokes(
            self._accept, self._known, self._delivery, clock, sealer, dialog_timeout
        )
        # Teams tells of one installation twice (installationUpdate, and conversationUpdate
        # with copbot among membersAdded), in either order and maybe at once: the teams
        # taken in since start, and one notice handled at a time, so it is taken in once.
        # Not read from storage: after a restart a notice is taken in again, harmlessly
        # (the core greets a channel only when copbot wasn't in it), so one whose events
        # never got committed before a crash is not lost.
        self._installs = TeamInstalls(self._conversations, clock, self._accept, send_timeout)
        self.refused_tenants = 0  # activities refused for their tenant, since start

    @property
    def command_prefix(self) -> str:
        """How people write a command to copbot: as they mention it in Teams, by the name
        the organisation's app package gave it (``copbot teams package --name``)."""
        return f"@{self._name}"

    @property
    def app_name(self) -> str:
        return self._name

    # -- lifecycle ------------------------------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.post(PATH, self._http)]

    async def start(self, sink: EventSink) -> None:
        await self._conversations.load()
        self._sink = sink
        if not self._gate.authenticated:
            log.warning(
                "TEAMS IS RUNNING WITHOUT AUTHENTICATION (no MicrosoftAppId): anyone who can "
                "reach %s can act as anyone. Use this for local testing only.",
                PATH,
            )
        log.info("listening for Microsoft Teams at %s", PATH)

    async def stop(self) -> None:
        self._sink = None
        self._gate.close()

    def _cloud(self) -> CloudAdapter:
        """botbuilder's adapter, built (and botbuilder imported) at first use."""
        if self._cloud_adapter is None:
            from botbuilder.integration.aiohttp import CloudAdapter

            self._cloud_adapter = CloudAdapter(self._gate.authentication())
        return self._cloud_adapter

    # -- inbound --------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        local_only = not self._gate.authenticated
        refusal = self._local_only.refuse_request(request) if local_only else None
        if refusal is not None:
            log.warning("refused an unauthenticated Teams request: %s", refusal.reason)
            return _refusal(refusal.status, refusal.reason)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _refusal(413, "too large")
        try:
            body = await request.content.read(MAX_BODY + 1)
        except (ValueError, OSError):
            return _refusal(400, "unreadable")
        if len(body) > MAX_BODY:
            return _refusal(413, "too large")
        try:
            raw = parse_json(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
            raw = None
        if not well_formed(raw):
            log.info("refused a request to %s that is not an activity", PATH)
            return _refusal(400, "not an activity")
        if raw.get("channelId") != CHANNEL_ID:
            # Web Chat and Direct Line clients choose their own "from" and "channelData":
            # only Teams vouches for who a person is and which tenant they are in.
            log.warning("refused an activity from a Bot Framework channel other than Teams")
            return _refusal(403, "only Microsoft Teams is served here")
        if local_only and not self._local_only.calls_back(raw.get("serviceUrl")):
            # With a token, botbuilder checks its serviceurl claim; without, only ours.
            log.warning("refused an unauthenticated Teams activity naming another serviceUrl")
            return _refusal(403, "serviceUrl not allowed")
        try:
            auth = await self._gate.check(raw, request.headers.get("Authorization", ""))
        except Refused as e:
            log.warning("refused a Teams request: %s", e.reason)
            return _refusal(401, "unauthorized")
        except Unavailable:
            log.warning("Teams' signing keys could not be fetched in time; answering 503")
            return _refusal(503, "try again later")
        # The allowed tenants are held in lower case (bot/settings.py): an emulator's, which
        # may be any word, is compared as written there, in whatever case it sends it.
        tenant = tenant_of(raw).lower()
        if self._tenants and tenant not in self._tenants:
            self.refused_tenants += 1
            log.warning(
                "refused a Teams activity from a tenant not in COPBOT_TEAMS_TENANTS (%d so far)",
                self.refused_tenants,
            )
            return _refusal(403, "tenant not allowed")
        if self._sink is None:
            return _refusal(503, "copbot is starting or stopping")
        answer: list[InvokeResponse] = []

        async def turn(context: TurnContext) -> None:
            answer.append(await self._turn(context, raw))

        try:
            if _needs_turn(raw):
                from botbuilder.schema import Activity

                cloud = self._cloud()
                try:
                    activity = Activity().deserialize(raw)
                except Exception:  # msrest's own errors, for shapes it can't read
                    log.info("refused a Teams activity botbuilder could not read")
                    return _refusal(400, "not an activity")
                if auth is None:
                    auth = await self._gate.anonymous(activity)
                await cloud.process_activity(auth, activity, turn)
            else:
                # The busy path (every reply in every channel): no botbuilder turn, whose
                # connector client, credentials and pipeline cost more than the rest of the
                # request; the steps are the turn's own, and nothing is sent back.
                answer.append(await self._turn(None, raw))
        except web.HTTPException:
            raise
        except Exception as e:
            # Not committed (storage failing, say): Teams sends it again later. The type
            # only: a message could quote the activity.
            log.error("could not accept a Teams activity (%s); answering 503", type(e).__name__)
            return _refusal(503, "try again later")
        invoke = answer[0] if answer else None
        if invoke is not None:
            return web.json_response(invoke.body, status=invoke.status)
        return web.Response(status=200)

    async def _turn(
        self, context: TurnContext | None, raw: dict[str, Any]
    ) -> InvokeResponse | None:
        self._invokes.drop_unsigned_origin(raw)
        recipient = _object(raw, "recipient")
        me = str(recipient.get("id") or "")
        self._name = own_name(raw.get("entities"), me, recipient.get("name")) or self._name
        if not anonymous_submission(raw):
            await self._remember(raw)
        if raw.get("type") == "invoke":
            from botbuilder.core import InvokeResponse  # loaded already: invokes take a turn

            body = await self._invokes.answer(raw)
            # Teams waits for an answer to every invoke, even one copbot doesn't use.
            return InvokeResponse(status=200, body=body if body is not None else {})
        change = team_change(raw)
        if change is not None and context is not None:
            await self._installs.changed(context, change, raw)
        else:
            known = Known(
                me=me,
                name=self._name,
                channels=self._conversations.names(),
                people=await self._mentioned(context, raw) if context else {},
            )
            event = from_activity(raw, known, self._clock.now())
            if isinstance(event, FormSubmitted):
                await self._invokes.card_submitted(event, raw)
            elif event is not None:
                await self._accept(event)
        return None

    def _known(self, raw: dict[str, Any], invoke: str = "") -> Known:
        me = str(_object(raw, "recipient").get("id") or "")
        return Known(me=me, name=self._name, channels=self._conversations.names(), invoke=invoke)

    async def _accept(self, event: InboundEvent) -> bool:
        sink = self._sink
        if sink is None:
            raise web.HTTPServiceUnavailable(text="copbot is stopping")
        if not await sink(event):
            # Its kind, not its id: a press's or command's id names the conversation, which
            # for one in someone's 1:1 chat (an anonymous form's button) names the person.
            log.info("Teams delivered a %s again; it was already accepted", type(event).__name__)
            return False
        return True

    async def _remember(self, raw: dict[str, Any]) -> None:
        """Keep the references posting needs: the channel's, and the person's, so that
        someone who has only pressed a button (Going, say) can still be sent a direct
        message. Never for an anonymous form (the caller leaves those out), nor for a press
        that opens a dialog: that may be an anonymous form's, and the row's time would tell
        when its answer came."""
        service_url = str(raw.get("serviceUrl") or "")
        tenant = tenant_of(raw)
        bot = str((raw.get("recipient") or {}).get("id") or "")
        if not service_url:
            return
        data = raw.get("channelData") or {}
        team = str((data.get("team") or {}).get("id") or "")
        group = str((data.get("team") or {}).get("aadGroupId") or "")
        channel = str((data.get("channel") or {}).get("id") or "")
        if team and channel and raw.get("type") != "conversationUpdate":
            place = Place(service_url, tenant, bot, team, group)
            await self._conversations.remember_channel(channel, "", place)
        sender = raw.get("from") or {}
        aad = str(sender.get("aadObjectId") or "")
        opens_dialog = raw.get("type") == "invoke" and raw.get("name") == "task/fetch"
        if aad and not opens_dialog:
            conversation = str((raw.get("conversation") or {}).get("id") or "")
            place = Place(
                service_url,
                tenant,
                bot,
                account=str(sender.get("id") or ""),
                conversation=conversation if is_personal(raw) else "",
            )
            await self._conversations.remember_person(f"{PLATFORM}:{aad}", place)

    async def _mentioned(self, context: TurnContext, raw: dict[str, Any]) -> dict[str, str]:
        """aad ids of people mentioned without one, asked of Teams (commands only)."""
        me = str((raw.get("recipient") or {}).get("id") or "")
        entities = [e for e in raw.get("entities") or () if isinstance(e, dict)]
        mentioned = [
            e["mentioned"]
            for e in entities
            if e.get("type") == "mention" and isinstance(e.get("mentioned"), dict)
        ]
        if not any(m.get("id") == me for m in mentioned):
            return {}
        from botbuilder.core.teams import TeamsInfo

        people: dict[str, str] = {}
        for m in mentioned:
            teams_id = str(m.get("id") or "")
            if not teams_id or teams_id == me or m.get("aadObjectId"):
                continue
            try:
                member = await TeamsInfo.get_member(context, teams_id)
            except Exception as e:
                log.info("Teams did not say who a mentioned person is (%s)", type(e).__name__)
                continue
            if member.aad_object_id:
                people[teams_id] = str(member.aad_object_id)
        return people

    # -- outbound -------------------------------------------------------------------

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        return await self._delivery.post(channel, message)

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        return await self._delivery.reply(thread, message)

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        return await self._delivery.send_direct(user, message)

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        if self._invokes.dialog(origin, cards.dialog_message(message.text)):
            return  # the answer to a press that asked for a dialog, shown in its place
        in_place = self._invokes.said(origin, message)
        try:
            await self._answer_privately(origin, message)
        except DeliveryError:
            if not in_place:
                raise
            # Someone copbot has no chat with yet: the press's answer shows it to them.
            log.info("answered a Teams card action in place only: no chat with the person")

    async def _answer_privately(self, origin: Origin, message: OutgoingMessage) -> None:
        if origin.channel.is_direct and origin.channel.id not in ("", ANONYMOUS_ID):
            await self._delivery.send_to(origin.channel, message, origin.user)
            return
        # Teams has no message only one person sees: the answer goes to their 1:1 chat.
        note = Context(
            f"You asked in {where(origin.channel)}; Teams can't show a message to you alone "
            "there, so I'm answering here."
        )
        await self.send_direct(origin.user, replace(message, blocks=(note, *message.blocks)))

    async def open_form(self, origin: Origin, form: Form) -> None:
        if self._invokes.dialog(origin, self._invokes.form_dialog(form, origin)):
            return  # opened as a dialog, in the answer to the press
        # Teams opens a dialog only from a button: one that opens this form, in their chat.
        activity = self._invokes.opener(form, origin)
        self._invokes.said(origin, OutgoingMessage.of(f"{form.title}: I've sent it to our chat."))
        if origin.channel.is_direct and origin.channel.id not in ("", ANONYMOUS_ID):
            channel = origin.channel
        else:
            channel = await self._delivery.direct(origin.user)
        place = await self._delivery.direct_place(channel, origin.user)
        await self._delivery.send_activity(place, channel.id, activity)

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        # A press of this card's buttons, still waiting, is answered with it at once.
        self._invokes.card_updated(ref, message)
        await self._delivery.update(ref, message)

    async def settled(self, origin: Origin) -> None:
        self._invokes.settled(origin)

    async def delete(self, ref: MessageRef) -> None:
        await self._delivery.delete(ref)

    async def permalink(self, ref: MessageRef) -> str:
        return await self._delivery.permalink(ref)

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        return await self._membership.channels_visible_to(user)

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        return await self._membership.channel_is_private(channel)

    def message_at(self, link: str) -> MessageRef | None:
        return links.message_at(link, self._tenants)


def _needs_turn(raw: dict[str, Any]) -> bool:
    """Whether the activity needs botbuilder's turn (a connector to ask Teams something, or
    an invoke answered in the HTTP response): team changes, invokes, and messages naming
    people without their aad id. Plain messages, edits and deletions don't."""
    if raw.get("type") not in ("message", "messageUpdate", "messageDelete"):
        return True
    me = (raw.get("recipient") or {}).get("id")
    return any(
        isinstance(e, dict)
        and e.get("type") == "mention"
        and isinstance(e.get("mentioned"), dict)
        and e["mentioned"].get("id") != me
        and not e["mentioned"].get("aadObjectId")
        for e in raw.get("entities") or ()
    )


def _refusal(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _object(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}
