"""Configuration, read once from the environment (and command-line overrides) into a frozen
``Settings``. Every mistake becomes a ``ConfigError`` with one sentence that names the
variable and says what a good value looks like."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import WordedError
from bot.model import split_identity

DEFAULT_DB = "copbot.db"


class ConfigError(WordedError):
    """Malformed configuration, described for the person running copbot."""


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str = ""
    app_token: str = ""  # set: Socket Mode instead of HTTP
    api_url: str = ""  # set: talk to this Web API base URL instead of Slack's own

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


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
    slack: SlackSettings | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], db: str | None = None) -> Settings:
        slack = _slack(env)
        playground_setting = env.get("COPBOT_PLAYGROUND", "").strip().lower()
        if playground_setting in ("", "auto"):
            # Off wherever a real platform is connected: it lets anyone act as anyone.
            playground = slack is None
        elif playground_setting in ("on", "1", "true", "yes"):
            playground = True
        elif playground_setting in ("off", "0", "false", "no"):
            playground = False
        else:
            raise ConfigError(
                f"COPBOT_PLAYGROUND must be on, off or auto, not '{playground_setting}'"
            )
        return cls(
            db_path=Path(db or env.get("COPBOT_DB") or DEFAULT_DB),
            timezone=_timezone(env.get("COPBOT_TIMEZONE", "Europe/London")),
            admins=_admins(env.get("COPBOT_ADMINS", "")),
            schedule_grace=timedelta(
                minutes=_positive_int(env, "COPBOT_SCHEDULE_GRACE_MINUTES", 15)
            ),
            playground=playground,
            public_url=_url(env.get("COPBOT_PUBLIC_URL", "")),
            retention_days=_positive_int(env, "COPBOT_RETENTION_DAYS", 0) or None,
            prompt_library=Path(env["COPBOT_PROMPT_LIBRARY"])
            if env.get("COPBOT_PROMPT_LIBRARY", "").strip()
            else None,
            slack=slack,
        )


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
            platform, ident = split_identity(part)
        except ValueError:
            raise ConfigError(
                f"COPBOT_ADMINS has '{part.strip()}', which is not an identity; "
                "list identities like slack:U123,teams:29f1c8e2-…,local:alex separated by commas"
            ) from None
        admins.add(f"{platform}:{ident}")
    return frozenset(admins)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{name} must be a whole number above 0, not '{text}'")
    return int(text)


def _url(text: str) -> str:
    text = text.strip().rstrip("/")
    if text and not text.startswith(("http://", "https://")):
        raise ConfigError(f"COPBOT_PUBLIC_URL must start with https:// (or http://), not '{text}'")
    return text


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
