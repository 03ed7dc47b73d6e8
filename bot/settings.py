"""Configuration, read once from the environment (and command-line overrides) into a frozen
``Settings``. Every mistake becomes a ``ConfigError`` with one sentence that names the
variable and says what a good value looks like."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.command_words import DEFAULT_TEAMS_NAME, teams_name_problem
from bot.errors import WordedError
from bot.identities import IdentityError, checked_identity

DEFAULT_DB = "copbot.db"


class ConfigError(WordedError):
    """Malformed configuration, described for the person running copbot."""


@dataclass(frozen=True)
class SlackSettings:
    # The secrets stay out of repr(), and so out of logs and tracebacks that show settings.
    bot_token: str = field(repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)  # set: Socket Mode instead of HTTP
    api_url: str = ""  # set: talk to this Web API base URL instead of Slack's own

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")


@dataclass(frozen=True)
class TeamsSettings:
    """Microsoft Teams, configured with botbuilder's own variable names."""

    app_id: str = ""  # "": unauthenticated, for local testing only
    app_password: str = field(default="", repr=False)  # kept out of logs, as a secret
    app_type: str = "MultiTenant"
    tenant_id: str = ""
    tenants: frozenset[str] = frozenset()  # tenants whose activities are accepted
    # Unauthenticated only: service URLs besides this machine's that copbot may call back.
    service_urls: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path(DEFAULT_DB)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    admins: frozenset[str] = frozenset()
    schedule_grace: timedelta = timedelta(minutes=15)
    playground: bool = True
    public_url: str = ""
    prompt_library: Path | None = None  # None: the library shipped with copbot
    retention_days: int | None = None  # None: keep archived messages until erased
    # Anonymous replies wait a uniformly random time up to this; zero posts them at once.
    anonymous_delay: timedelta = timedelta(seconds=120)
    # Signs links and form contexts; "" uses a key made on first start and kept in the file.
    secret_key: str = field(default="", repr=False)
    slack: SlackSettings | None = None
    teams: TeamsSettings | None = None
    # Regions events are planned for, as people write them; matched without regard to case.
    regions: tuple[str, ...] = ("North", "Midlands", "London", "South", "National")
    # Before an event starts, reminders go out this long ahead (largest first).
    event_reminders: tuple[timedelta, ...] = (
        timedelta(days=7),
        timedelta(days=1),
        timedelta(hours=1),
    )
    metrics: bool = False  # GET /metrics for Prometheus, off the public routes unless asked
    log_format: str = "text"  # or "json": one JSON object a line, for log collectors
    # The Teams app's name, as its package gave it (`copbot teams package --name`): what
    # people mention before a command, and what copbot writes before one.
    teams_name: str = DEFAULT_TEAMS_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str], db: str | None = None) -> Settings:
        # Only the settings copbot reads are checked for quotes: another program's
        # variables in the same environment are none of its business.
        read = _Reads(env)
        try:
            settings = cls._from_env(read, db)
        except ConfigError:
            _no_quotes(env, read.names)  # the likelier cause, said first
            raise
        _no_quotes(env, read.names)
        return settings

    @classmethod
    def _from_env(cls, env: Mapping[str, str], db: str | None) -> Settings:
        slack = _slack(env)
        teams = _teams(env)
        playground_setting = env.get("COPBOT_PLAYGROUND", "").strip().lower()
        if playground_setting in ("", "auto"):
            # Off wherever a real platform is connected: it lets anyone act as anyone.
            playground = slack is None and (teams is None or not teams.authenticated)
        elif playground_setting in ("on", "1", "true", "yes"):
            playground = True
        elif playground_setting in _OFF:
            playground = False
        else:
            raise ConfigError(
                f"COPBOT_PLAYGROUND must be on, off or auto, not '{playground_setting}'"
            )
        public_url = _url(env.get("COPBOT_PUBLIC_URL", ""))
        if teams is not None and not teams.authenticated:
            _only_on_this_machine(slack, playground_setting, public_url)
        return cls(
            db_path=Path(db or env.get("COPBOT_DB") or DEFAULT_DB),
            timezone=_timezone(env.get("COPBOT_TIMEZONE", "").strip() or "Europe/London"),
            admins=_admins(env.get("COPBOT_ADMINS", "")),
            schedule_grace=timedelta(
                minutes=_positive_int(env, "COPBOT_SCHEDULE_GRACE_MINUTES", 15, most=7 * 24 * 60)
            ),
            playground=playground,
            public_url=public_url,
            retention_days=_positive_int(env, "COPBOT_RETENTION_DAYS", 0, most=100 * 366) or None,
            anonymous_delay=timedelta(seconds=_anonymous_delay(env)),
            secret_key=_secret_key(env.get("COPBOT_SECRET_KEY", "")),
            prompt_library=Path(env["COPBOT_PROMPT_LIBRARY"])
            if env.get("COPBOT_PROMPT_LIBRARY", "").strip()
            else None,
            slack=slack,
            teams=teams,
            regions=_regions(env.get("COPBOT_REGIONS", "")),
            event_reminders=_reminders(env.get("COPBOT_EVENT_REMINDERS", "")),
            metrics=_switch(env, "COPBOT_METRICS"),
            log_format=_log_format(env.get("COPBOT_LOG_FORMAT", "")),
            teams_name=_teams_name(env.get("COPBOT_TEAMS_NAME", "")),
        )


def _teams_name(value: str) -> str:
    name = value.strip()
    if not name:
        return DEFAULT_TEAMS_NAME
    if (problem := teams_name_problem(name)) is not None:
        # Not echoed: a mistaken value could be anything pasted.
        raise ConfigError(
            f"COPBOT_TEAMS_NAME, the Teams app's name as its package gave it, {problem}"
        )
    return name


_OFF = ("off", "0", "false", "no")
_ON = ("on", "1", "true", "yes")
_PREFIXES = ("COPBOT_", "SLACK_", "Microsoft")  # every setting's (docs/configuration.md)


class _Reads(Mapping[str, str]):
    """The environment, noting which names copbot asked it for."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._env[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self._env

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def _no_quotes(env: Mapping[str, str], names: Collection[str]) -> None:
    """`docker run --env-file` keeps quotes as part of a value, where a shell and systemd's
    EnvironmentFile take them away: a setting in quotes would be a token, id or password
    nobody meant, failing much later (a Teams sign-in refused) and far from its cause."""
    for name in sorted(n for n in names if n in env):
        text = env[name].strip()
        if name.startswith(_PREFIXES) and len(text) >= 2 and text[0] == text[-1] in "'\"":
            # Never echo the value: it may be a secret.
            raise ConfigError(
                f"{name} is written in quotes, which `docker run --env-file` keeps as part "
                "of the value; write it without them"
            )


def _only_on_this_machine(
    slack: SlackSettings | None, playground_setting: str, public_url: str
) -> None:
    """Teams without MicrosoftAppId lets anyone who reaches /api/messages act as anyone, as
    the playground does: copbot runs it only when nothing and nobody beyond this machine is
    involved (no Slack but a fake one on this machine, no public address, the playground not
    forbidden), for trying copbot with an emulator."""
    if slack is not None and not _on_this_machine(slack.api_url):
        why = "Slack is set up too"
    elif public_url and not _on_this_machine(public_url):
        why = f"COPBOT_PUBLIC_URL is {public_url}, not this machine"
    elif playground_setting in _OFF:
        why = "COPBOT_PLAYGROUND=off forbids that"
    else:
        return
    raise ConfigError(
        "COPBOT_TEAMS=on without MicrosoftAppId lets anyone act as anyone, so copbot allows it "
        f"only for trying it on this machine alone, but {why}; set MicrosoftAppId, "
        "MicrosoftAppPassword and COPBOT_TEAMS_TENANTS (see docs/teams.md), or COPBOT_TEAMS=off"
    )


def _on_this_machine(url: str) -> bool:
    """An address on this machine (localhost, 127.0.0.1, [::1]); "" (Slack's own) is not."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _switch(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", *_OFF):
        return False
    if value in _ON:
        return True
    raise ConfigError(f"{name} must be on or off, not '{value}'")


def _log_format(text: str) -> str:
    value = text.strip().lower() or "text"
    if value not in ("text", "json"):
        raise ConfigError(f"COPBOT_LOG_FORMAT must be text or json, not '{value}'")
    return value


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"COPBOT_TIMEZONE '{name}' is not a time zone; use a name like Europe/London"
        ) from None


def _admins(text: str) -> frozenset[str]:
    admins = set()
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            admins.add(checked_identity(part))
        except IdentityError as e:
            raise ConfigError(f"COPBOT_ADMINS has '{e.value}', which {e.reason}") from None
    return frozenset(admins)


def _positive_int(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    # ASCII digits only, and few of them: "²" passes isdigit(), and a huge number overflows
    # the dates it becomes later (a purge every night, failing).
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not 0 < int(text) <= most:
        raise ConfigError(f"{name} must be a whole number from 1 to {most:,}, not '{text[:40]}'")
    return int(text)


def _anonymous_delay(env: Mapping[str, str]) -> int:
    name = "COPBOT_ANONYMOUS_DELAY"
    text = env.get(name, "").strip()
    if not text:
        return 120
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 3600:
        raise ConfigError(
            f"{name} must be a whole number of seconds from 0 (no delay) to 3,600, "
            f"not '{text[:40]}'"
        )
    return int(text)


def _secret_key(text: str) -> str:
    text = text.strip()
    if text and len(text.encode()) < 32:
        # Never echo the value: this line reaches logs and terminals.
        raise ConfigError(
            "COPBOT_SECRET_KEY is too short: use at least 32 random characters, e.g. the "
            "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return text


def _url(text: str) -> str:
    written = text.strip()
    if not written:
        return written
    if not written.startswith(("http://", "https://")):
        raise ConfigError(
            f"COPBOT_PUBLIC_URL must start with https:// (or http://), not '{written[:80]}'"
        )
    address = web_address(written)
    if address is None:
        raise ConfigError(
            f"COPBOT_PUBLIC_URL '{written[:80]}' is not a web address copbot can be reached "
            "at; write it like https://copbot.example.org"
        )
    return address


def web_address(text: str) -> str | None:
    """``text`` as an address people and platforms reach copbot at (without its last
    slash), or None: http(s), a host, a port that is a number, no user part, query or
    fragment. COPBOT_PUBLIC_URL, the Slack manifest's and the Teams package's --url are
    all checked by this one rule, so none takes an address another refuses."""
    address = text.strip().rstrip("/")
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in address)
    ):
        return None
    return address


def _slack(env: Mapping[str, str]) -> SlackSettings | None:
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    secret = env.get("SLACK_SIGNING_SECRET", "").strip()
    app_token = env.get("SLACK_APP_TOKEN", "").strip()
    api_url = env.get("SLACK_API_URL", "").strip()
    if not (token or secret or app_token):
        return None
    if not token:
        raise ConfigError("Slack is half set up: SLACK_BOT_TOKEN (xoxb-…) is missing")
    if not token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    if not app_token and not secret:
        raise ConfigError(
            "Slack is half set up: SLACK_SIGNING_SECRET is missing "
            "(or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    if api_url and not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, not '{api_url}'")
    if api_url and not api_url.endswith("/"):
        api_url += "/"
    return SlackSettings(token, secret, app_token, api_url)


def _teams(env: Mapping[str, str]) -> TeamsSettings | None:
    app_id = env.get("MicrosoftAppId", "").strip()
    password = env.get("MicrosoftAppPassword", "").strip()
    app_type = env.get("MicrosoftAppType", "").strip() or "MultiTenant"
    tenant_id = env.get("MicrosoftAppTenantId", "").strip()
    tenants = frozenset(
        t.strip() for t in env.get("COPBOT_TEAMS_TENANTS", "").split(",") if t.strip()
    )
    switch = env.get("COPBOT_TEAMS", "").strip().lower()
    if switch not in ("", "auto", "on", "off", "1", "0", "true", "false", "yes", "no"):
        raise ConfigError(f"COPBOT_TEAMS must be on, off or auto, not '{switch}'")
    if switch in _OFF or (not app_id and switch not in ("on", "1", "true", "yes")):
        return None
    if app_type not in APP_TYPES:
        raise ConfigError(
            f"MicrosoftAppType must be one of {', '.join(APP_TYPES)}, not '{app_type}'"
        )
    if app_id and app_type != "UserAssignedMSI" and not password:
        raise ConfigError(
            "Teams is half set up: MicrosoftAppPassword (the bot's secret) is missing"
        )
    if app_type != "MultiTenant" and not app_id:
        # Refused here, at start: botbuilder would only say so at the first activity.
        raise ConfigError(f"MicrosoftAppType {app_type} needs MicrosoftAppId (the bot's id)")
    if app_type != "MultiTenant" and not tenant_id:
        raise ConfigError(f"MicrosoftAppType {app_type} needs MicrosoftAppTenantId (a tenant id)")
    if app_id:
        # Microsoft names a tenant by its id, written in lower case in every activity:
        # anything else (a domain, say) would have every activity refused, long after start.
        tenant_id = _tenant_id("MicrosoftAppTenantId", tenant_id) if tenant_id else ""
        tenants = frozenset(_tenant_id("COPBOT_TEAMS_TENANTS", t) for t in tenants)
    else:
        # Unchecked without an app id (an emulator's tenant may be any word), but compared
        # with activities' tenants as Microsoft writes them: in lower case.
        tenants = frozenset(t.lower() for t in tenants)
    if app_type == "SingleTenant" and not tenants:
        tenants = frozenset({tenant_id})
    if app_id and not tenants:
        # A valid token is not enough: anyone can upload an app package to their own tenant.
        raise ConfigError(
            "COPBOT_TEAMS_TENANTS is empty: list your Microsoft 365 tenant id(s), separated by "
            "commas, so activities from other organisations are refused"
        )
    service_urls = _service_urls(env.get("COPBOT_TEAMS_SERVICE_URLS", ""))
    if app_id and service_urls:
        raise ConfigError(
            "COPBOT_TEAMS_SERVICE_URLS is for Teams without MicrosoftAppId only: with an app "
            "id, Microsoft's token names the service URL; leave it empty"
        )
    return TeamsSettings(app_id, password, app_type, tenant_id, tenants, service_urls)


_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _tenant_id(name: str, text: str) -> str:
    """A Microsoft Entra tenant id, in the lower case Teams writes it in."""
    value = text.strip().lower()
    if not _TENANT_ID.fullmatch(value):
        raise ConfigError(
            f"{name} has '{text.strip()[:60]}', which is not a tenant id; write the Directory "
            "(tenant) ID shown in Microsoft Entra, like 72f988bf-86f1-41af-91ab-2d7cd011db47, "
            "not a domain name"
        )
    return value


def _service_urls(text: str) -> frozenset[str]:
    urls = [part.strip() for part in text.split(",") if part.strip()]
    for url in urls:
        if not _plain_address(url):
            raise ConfigError(
                f"COPBOT_TEAMS_SERVICE_URLS has '{url[:40]}'; list addresses like "
                "http://emulator.example:56150, separated by commas"
            )
    return frozenset(urls)


def _plain_address(url: str) -> bool:
    """An http(s) address with a host, a number for a port, and no user part."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (read for the ValueError a bad port raises)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc


def _regions(text: str) -> tuple[str, ...]:
    if not text.strip():
        return Settings.regions
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        # Commas alone would leave no region to plan an event for, link a channel to or feed.
        raise ConfigError(
            "COPBOT_REGIONS names no region; list them separated by commas, like "
            "North,Midlands,London,South,National, or leave it unset for those"
        )
    seen: set[str] = set()
    for name in names:
        if len(name) > 40 or not all(c.isalnum() or c in " -'" for c in name):
            raise ConfigError(
                f"COPBOT_REGIONS has '{name[:40]}'; use names of at most 40 letters, digits, "
                "spaces, hyphens or apostrophes, separated by commas, like "
                "North,Midlands,London,South,National"
            )
        if name.lower() in seen:
            raise ConfigError(f"COPBOT_REGIONS names '{name}' twice")
        if name.lower() == "all":
            # /calendar/all.ics is every region's feed: a region can't have that address.
            raise ConfigError(
                "COPBOT_REGIONS can't have a region called 'All': its calendar address is "
                "taken by the feed of every region's events"
            )
        seen.add(name.lower())
    return tuple(names)


_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def _reminders(text: str) -> tuple[timedelta, ...]:
    """ "7d,1d,1h" -> offsets before an event; "none" for no reminders."""
    if not text.strip():
        return Settings.event_reminders
    if text.strip().lower() == "none":
        return ()
    offsets: set[timedelta] = set()
    for part in text.split(","):
        part = part.strip().lower()
        number, unit = part[:-1], part[-1:]
        if not (number.isascii() and number.isdigit()) or unit not in _UNITS or len(number) > 4:
            raise ConfigError(
                f"COPBOT_EVENT_REMINDERS has '{part[:20]}'; write offsets before the event like "
                "7d,1d,1h (days, hours or minutes: d, h, m), or none"
            )
        offset = int(number) * _UNITS[unit]
        if not timedelta(minutes=1) <= offset <= timedelta(days=60):
            raise ConfigError(
                f"COPBOT_EVENT_REMINDERS offset '{part}' must be from 1 minute to 60 days"
            )
        offsets.add(offset)
    return tuple(sorted(offsets, reverse=True))
