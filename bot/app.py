"""The composition root: the one place that knows every concrete class.

``create_app`` opens the database, builds the adapters for whatever is configured, wires
the features to the router, and returns an aiohttp application whose ``cleanup_ctx``
starts and stops the inbox, the adapters and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from adapters.local import LocalAdapter
from bot.archive_ports import HistorySource
from bot.calendar_feed import FeedSite
from bot.chat import Chat, SendObserver
from bot.clock import SystemClock
from bot.command_words import CommandWords
from bot.console.about_pages import AboutPages
from bot.console.archive_pages import ArchivePages
from bot.console.audit import Audit
from bot.console.audit_pages import AuditPages
from bot.console.events_pages import EventsPages
from bot.console.feature import ConsoleFeature
from bot.console.feedback_pages import FeedbackPages
from bot.console.participation_pages import ParticipationPages
from bot.console.people_pages import PeoplePages
from bot.console.playground import PlaygroundSignIn
from bot.console.prompts_pages import PromptsPages
from bot.console.scope import Scopes
from bot.console.sign_in import Sessions, SignInLinks
from bot.console.web import Templates
from bot.core import Core
from bot.inbox import Inbox, veil_of
from bot.logs import guard_server_log
from bot.people import People
from bot.ports import ChatAdapter, Clock, RetryObserver, unobserved_retry
from bot.registry import Feature, Registry
from bot.roles import Roles
from bot.router import Router
from bot.scheduler import Scheduler, SchedulerSettings
from bot.services.anonymous_replies import AnonymousRepliesFeature
from bot.services.archive import THREAD_NOTICE, ArchiveFeature
from bot.services.calendar_feeds import CalendarFeedsFeature
from bot.services.channels import ChannelsFeature
from bot.services.conversations import ConversationsFeature
from bot.services.erasure import Erasure
from bot.services.event_invitations import EventInvitations
from bot.services.events import EventsFeature
from bot.services.exports import ExportsFeature
from bot.services.feedback import FeedbackFeature
from bot.services.help import HelpFeature
from bot.services.home import HomeFeature
from bot.services.people import PeopleFeature
from bot.services.prompts import PromptCatalogue, PromptPublisher, PromptsFeature, PromptThreads
from bot.services.regions import Regions, RegionsFeature
from bot.services.roles import RolesFeature
from bot.services.schedules import SchedulesFeature
from bot.services.spine import SpineData
from bot.settings import Settings
from bot.signing import Signing
from bot.stopping import CLOSING, GRACE, STOP_LIMIT, Stopping
from bot.visibility import Visibility
from prompts import LIBRARY_DIR, Library, load_library
from storage.anonymous_replies import SqliteAnonymousReplyRepository
from storage.archive import SqliteArchiveRepository
from storage.archive_reader import SqliteArchiveReader
from storage.archive_threads import SqliteThreadReader
from storage.channels import SqliteChannelRepository
from storage.console import SqliteAuditRepository, SqliteSessionRepository
from storage.conversations import SqliteConversationRepository
from storage.database import Database
from storage.events import SqliteEventRepository
from storage.exports import SqliteExportLinkRepository
from storage.feedback import SqliteFeedbackRepository
from storage.inbox import SqliteInboxRepository
from storage.jobs import SqliteJobRepository
from storage.migrations import PLAYGROUND_MIGRATIONS
from storage.owned import Gate, open_gate
from storage.people import SqlitePeopleRepository
from storage.playground import SqlitePlaygroundRepository
from storage.prompts import SqlitePromptRepository
from storage.regions import SqliteRegionLinkRepository
from storage.roles import SqliteRoleRepository
from storage.secret_key import stored_secret
from storage.write_health import refusal

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)


CORE = web.AppKey("core", Core)
STOPPING = web.AppKey("stopping", Stopping)
# No route takes a larger body: aiohttp refuses one with 413 as it streams past this, before
# the rest arrives (Teams refuses past its own, smaller limit).
MAX_BODY = 1024 * 1024
DATABASES = web.AppKey("databases", tuple[Database, ...])


def playground_path(db_path: Path) -> Path:
    """The playground's own file, beside copbot's: copbot.db -> copbot.playground.db."""
    return db_path.with_name(f"{db_path.stem}.playground{db_path.suffix or '.db'}")


def build_core(
    settings: Settings,
    db: Database,
    clock: Clock,
    adapters: Sequence[ChatAdapter],
    library: Library | None = None,
    observe: SendObserver | None = None,
) -> Core:
    chat = Chat(adapters, observe) if observe else Chat(adapters)
    registry = Registry()
    personas = [
        (persona.user, persona.role)
        for adapter in adapters
        if isinstance(adapter, LocalAdapter)
        for persona in adapter.personas
    ]
    people = People(
        SqlitePeopleRepository(db, clock),
        named={user.identity: user.display for user, _ in personas},
    )
    roles = Roles(SqliteRoleRepository(db, clock), settings.admins, personas, people)
    for adapter in adapters:
        if isinstance(adapter, LocalAdapter):
            adapter.show_roles_from(roles.role_of)  # the persona picker shows the stored role
    channels = SqliteChannelRepository(db, clock)
    jobs = SqliteJobRepository(db, clock)
    scheduler = Scheduler(
        jobs, clock, SchedulerSettings(timezone=settings.timezone, grace=settings.schedule_grace)
    )
    prompt_repo = SqlitePromptRepository(db)
    catalogue = PromptCatalogue(library or load_prompt_library(settings), prompt_repo)
    publisher = PromptPublisher(chat, prompt_repo, clock, notice=THREAD_NOTICE)
    archive = SqliteArchiveRepository(db)
    inbox_repo = SqliteInboxRepository(db)
    erasure = Erasure(registry, archive, clock, db.checkpoint)
    visibility = Visibility(chat, channels, archive, clock)  # who may see which channels
    signing = Signing(settings.secret_key.encode() or stored_secret(db.path), clock)
    region_links = SqliteRegionLinkRepository(db, clock)
    regions = Regions(region_links, settings.regions)
    event_repo = SqliteEventRepository(db, clock)
    audit = Audit(SqliteAuditRepository(db), clock)
    templates = Templates(settings.timezone, CommandWords(settings.teams_name))
    sign_ins = SqliteSessionRepository(db)
    threads = SqliteThreadReader(db)
    scopes = Scopes(visibility, threads)
    schedules = SchedulesFeature(
        scheduler,
        catalogue,
        publisher,
        prompt_repo,
        channels,
        chat,
        clock,
        people,
        visibility,
        roles,
    )
    events = EventsFeature(
        event_repo,
        regions,
        SqliteFeedbackRepository(db),
        catalogue,
        publisher,
        chat,
        clock,
        scheduler,
        timezone=settings.timezone,
        public_url=settings.public_url,
        reminders=settings.event_reminders,
    )
    # Adding a feature: a module under bot/services/ and a line here (see CONTRIBUTING.md).
    features: tuple[Feature, ...] = (
        HelpFeature(registry.commands, chat),
        PeopleFeature(people),
        RolesFeature(roles, people, audit),
        ChannelsFeature(channels, chat, settings.regions),
        PromptsFeature(catalogue, publisher, prompt_repo, clock, people, settings.timezone),
        schedules,
        ArchiveFeature(
            archive,
            channels,
            [PromptThreads(prompt_repo)],
            chat,
            clock,
            scheduler,
            settings.retention_days,
            erasure,
            visibility,
        ),
        ExportsFeature(
            SqliteArchiveReader(db.path),
            SqliteExportLinkRepository(db),
            catalogue,
            chat,
            clock,
            settings.public_url,
            roles,
            visibility,
            timezone=settings.timezone,
            audit=audit,
            secret_key=settings.secret_key,
            why_refused=refusal,
        ),
        HomeFeature(prompt_repo, catalogue, roles, chat, settings.timezone, visibility),
        FeedbackFeature(
            SqliteFeedbackRepository(db),
            chat,
            clock,
            scheduler,
            visibility,
            EventInvitations(event_repo),
        ),
        AnonymousRepliesFeature(
            SqliteAnonymousReplyRepository(db),
            archive,
            PromptThreads(prompt_repo),
            channels,
            visibility,
            chat,
            clock,
            scheduler,
            settings.anonymous_delay,
            signing.signer("anonymous-reply"),
        ),
        SpineData(inbox_repo, jobs),
        ConversationsFeature(SqliteConversationRepository(db, clock)),
        RegionsFeature(regions, region_links, channels, visibility, events.announce_upcoming),
        events,
        ConsoleFeature(
            SignInLinks(signing.signer("console-link"), sign_ins, clock),
            Sessions(
                signing.signer("console-session"), signing.signer("console-csrf"), sign_ins, clock
            ),
            sign_ins,
            audit,
            roles,
            people,
            chat,
            clock,
            templates,
            settings.public_url,
            pages=(
                ArchivePages(
                    threads,
                    archive,
                    SqliteArchiveReader(db.path),
                    scopes,
                    catalogue,
                    audit,
                    clock,
                    templates,
                    settings.timezone,
                    settings.regions,
                ),
                FeedbackPages(SqliteFeedbackRepository(db), visibility, templates),
                ParticipationPages(threads, scopes, catalogue, templates),
                PromptsPages(
                    catalogue, prompt_repo, schedules, threads, scopes, people, audit, templates
                ),
                EventsPages(
                    events,
                    settings.regions,
                    catalogue,
                    SqliteFeedbackRepository(db),
                    people,
                    audit,
                    clock,
                    templates,
                    settings.timezone,
                ),
                PeoplePages(
                    roles,
                    people,
                    erasure,
                    audit,
                    templates,
                    chat.platforms,
                    names={user.identity: user.display for user, _ in personas},
                ),
                AuditPages(audit, people, templates),
                AboutPages(templates, settings.retention_days, erasure),
                PlaygroundSignIn(  # local mode only: no personas, no page
                    [user for user, _ in personas],
                    signing.signer("console-playground"),
                    roles,
                    clock,
                    templates,
                    beside_platforms=settings.slack is not None or settings.teams is not None,
                ),
            ),
            names={user.identity: user.display for user, _ in personas},
            addressed=next((a.guarded for a in adapters if isinstance(a, LocalAdapter)), None),
            why_refused=refusal,
        ),
        CalendarFeedsFeature(event_repo, FeedSite(settings.public_url, settings.regions)),
    )
    for feature in features:
        feature.register(registry)
    for kind in registry.job_kinds:
        scheduler.register(kind)
    router = Router(registry, roles, chat)
    inbox = Inbox(
        inbox_repo,
        people.noting(router.handle, roles.meet, registry.unnoted),
        clock,
        redact=registry.redact,
        check=router.check,
        in_turn=registry.in_turn,
        unnoted=registry.unnoted,
        veil=veil_of(settings.secret_key),
        conversation=registry.conversation,
    )
    return Core(
        settings=settings,
        db=db,
        clock=clock,
        adapters=tuple(adapters),
        chat=chat,
        registry=registry,
        roles=roles,
        channels=channels,
        inbox=inbox,
        scheduler=scheduler,
        prompts=catalogue,
        archive=archive,
        erasure=erasure,
        signing=signing,
        audit=audit,
        features=features,
    )


def slack_history(path: Path) -> HistorySource:
    """A Slack export to import (a zip or its folder)."""
    from adapters.slack.history import SlackExport

    return SlackExport(path)


def load_prompt_library(settings: Settings) -> Library:
    """The configured library, checked; raises LibraryError, refusing to start on a bad one."""
    return load_library(settings.prompt_library or LIBRARY_DIR)


def build_adapters(
    settings: Settings,
    playground: Database | None,
    clock: Clock,
    db: Database | None = None,
    observe_retry: RetryObserver = unobserved_retry,
) -> list[ChatAdapter]:
    adapters: list[ChatAdapter] = []
    if playground is not None:
        store = SqlitePlaygroundRepository(playground)
        adapters.append(
            LocalAdapter(
                store,
                clock,
                base_url=settings.public_url,
                timezone=settings.timezone,
                why_refused=refusal,
            )
        )
    if settings.slack is not None:
        # Imported here: slack-bolt is loaded only by processes that talk to Slack.
        from adapters.slack import SlackAdapter

        adapters.append(
            SlackAdapter(
                settings.slack, clock, timezone=settings.timezone, observe_retry=observe_retry
            )
        )
    if settings.teams is not None and db is not None:
        from adapters.teams import TeamsAdapter  # botbuilder, only where Teams is set up

        conversations = SqliteConversationRepository(db, clock)
        signing = Signing(settings.secret_key.encode() or stored_secret(db.path), clock)
        adapters.append(
            TeamsAdapter(
                settings.teams,
                conversations,
                clock,
                settings.public_url,
                sealer=signing.signer("teams-form"),  # forms opened from a one-button card
                observe_retry=observe_retry,
                name=settings.teams_name,
            )
        )
    return adapters


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    adapters: Sequence[ChatAdapter] | None = None,
    gate: Gate | None = None,
    stopping: Stopping | None = None,
) -> web.Application:
    """``gate`` runs before each unit of storage work: fault tests make storage fail there.
    ``stopping`` shares out the time a stop may take (tests give it a shorter limit)."""
    clock = clock or SystemClock()
    library = load_prompt_library(settings)
    db = Database.open(settings.db_path, gate=gate) if gate else Database.open(settings.db_path)
    opened = [db]
    metrics: Metrics | None = None
    if settings.metrics:
        from bot.metrics import Metrics  # prometheus_client, only where metrics are on

        metrics = Metrics(SqliteInboxRepository(db), SqliteJobRepository(db, clock), clock)
    if adapters is None:
        playground = None
        if settings.playground:
            playground = Database.open(  # the same gate: the same disk's faults
                playground_path(settings.db_path),
                migrations=PLAYGROUND_MIGRATIONS,
                gate=gate or open_gate,
            )
            opened.append(playground)
        adapters = build_adapters(
            settings, playground, clock, db, metrics.retried if metrics else unobserved_retry
        )
    core = build_core(settings, db, clock, adapters, library, metrics.sent if metrics else None)
    guard_server_log()  # hostile requests must not write tracebacks quoting their headers
    app = web.Application(
        middlewares=[metrics.middleware] if metrics else [], client_max_size=MAX_BODY
    )
    app[CORE] = core
    app[DATABASES] = tuple(opened)
    app.on_response_prepare.append(_baseline_headers)
    app.router.add_get("/healthz", _healthz)
    if metrics:
        app.router.add_get("/metrics", metrics.page)
        app.cleanup_ctx.append(_counting_logs(metrics))
    app.router.add_routes(core.registry.routes)
    app[STOPPING] = stopping or Stopping()
    app.on_shutdown.append(_begin_stop(app[STOPPING]))
    for adapter in adapters:
        app.router.add_routes(adapter.routes())
        if isinstance(adapter, LocalAdapter):
            app.on_shutdown.append(_ending_streams(adapter))
    app.cleanup_ctx.append(_running)
    return app


# Every answer, not only the pages that set their own (the console's, the playground's):
# JSON, calendars, health, and aiohttp's own refusals (no such address, a wrong method).
BASELINE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


async def _baseline_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in BASELINE_HEADERS.items():
        response.headers.setdefault(name, value)


def _ending_streams(local: LocalAdapter) -> Callable[[web.Application], Awaitable[None]]:
    """Before the server waits for requests in flight: an open playground page's event
    stream would otherwise hold a stop for its whole lifetime."""

    async def ending(app: web.Application) -> None:
        await local.end_streams()

    return ending


def _counting_logs(metrics: Metrics) -> Callable[[web.Application], AsyncIterator[None]]:
    async def counting(app: web.Application) -> AsyncIterator[None]:
        handler = metrics.log_counter()
        logging.getLogger().addHandler(handler)
        try:
            yield
        finally:
            logging.getLogger().removeHandler(handler)

    return counting


async def _running(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    tasks = [asyncio.create_task(core.inbox.run_forever(), name="copbot-inbox")]
    started: list[ChatAdapter] = []
    try:
        for adapter in core.adapters:
            await adapter.start(core.inbox.accept)
            started.append(adapter)
        for step in core.registry.startup:
            await step()
        tasks.append(asyncio.create_task(core.scheduler.run_forever(), name="copbot-scheduler"))
        log.info("copbot is running with %s", ", ".join(core.chat.platforms) or "no platforms")
        yield
    finally:
        # Before the adapters stop: what runs now still needs them to answer. Both steps
        # draw on the stop's one limit (bot/stopping.py), whatever the requests took.
        stopping = app[STOPPING]
        grace = stopping.left(GRACE, keep=CLOSING)
        await asyncio.gather(core.inbox.finish_running(grace), core.scheduler.finish_running(grace))
        within = stopping.left(STOP_LIMIT)
        await asyncio.gather(*(_stop_adapter(adapter, within) for adapter in reversed(started)))
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for database in app[DATABASES]:
            database.close()


async def _stop_adapter(adapter: ChatAdapter, within: float) -> None:
    """A platform that doesn't answer must not keep copbot from stopping in time: the
    others close alongside it, and the stop goes on without it."""
    try:
        async with asyncio.timeout(within):
            await adapter.stop()
    except TimeoutError:
        log.warning(
            "the %s adapter hadn't closed its connections after %.1f s; stopping without it",
            adapter.platform,
            within,
        )
    except Exception:
        log.exception("stopping the %s adapter failed", adapter.platform)


def _begin_stop(stopping: Stopping) -> Callable[[web.Application], Awaitable[None]]:
    """The first thing a stop does, as the server stops listening: the limit counts from
    here, requests in flight included."""

    async def begin(app: web.Application) -> None:
        stopping.begin()

    return begin


async def _healthz(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE]
    ok = await core.db.ping()
    # A read answers while the disk is full or the file read-only, and then every event
    # Slack and Teams send is refused: unhealthy until a write is kept again.
    trouble = None
    for file in request.app[DATABASES]:
        trouble = trouble or await file.write_trouble()
    degraded = core.chat.degraded()
    database = "ok" if ok else "not answering"
    if ok and trouble:
        database = f"can't write: {trouble}"
    well = ok and not trouble
    body: dict[str, object] = {
        "status": ("degraded" if degraded else "ok") if well else "unavailable",
        "database": database,
        "platforms": core.chat.platforms,
    }  # no version: the proxy passes /healthz to anyone (`copbot --version` on the server)
    if degraded:
        # Still 200: copbot keeps taking events and retries its sends; restarting won't help.
        body["degraded"] = degraded
    return web.json_response(body, status=200 if well else 503)
