"""Who may talk to copbot on Teams: botbuilder's token validation, guarded so that it fails
closed and never hangs.

``CloudAdapter`` answers only ``PermissionError`` with 401: a malformed token raises
something else (a 500), and a token naming a Bot Framework or emulator issuer makes it fetch
signing keys with a blocking ``requests.get`` that has no timeout. So copbot:

- checks the token's shape first, without the network (bearer, a JWT signed RS256, a key id,
  issued by the Bot Framework channel service, not expired): anything else is refused at
  once. botbuilder would also take emulator and skill tokens, which any token Entra ID
  issues for copbot's app id passes, and whose ``serviceurl`` it never checks: Teams sends
  only the channel service's;
- runs botbuilder's validation on a small pool of its own threads, with a deadline: the
  event loop never blocks, and while the keys cannot be had the answer is 503;
- turns every other failure of validation into a refusal.

botbuilder and PyJWT (with cryptography, and the connector's msrest, requests and msal:
some 20 MiB) are imported when the first token is checked, not at start: a server without
an app id never needs them for the messages it only archives. Configuration is checked at
start all the same (``bot.settings``).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import Activity
    from botframework.connector.auth import AuthenticateRequestResult

CLOCK_SKEW = 300  # seconds of leeway on expiry, as botbuilder allows
# Who issues the tokens Teams sends (Microsoft's public cloud, the only one copbot serves).
CHANNEL_ISSUER = "https://api.botframework.com"
AUTH_THREADS = 2


class Refused(Exception):
    """The request does not carry a valid token; ``reason`` names the kind, never content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unavailable(Exception):
    """Signing keys could not be had in time: the caller should try again later (503)."""


class AppCredentials(Protocol):
    @property
    def app_id(self) -> str: ...

    @property
    def app_password(self) -> str: ...

    @property
    def app_type(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...


@dataclass(frozen=True)
class _Configuration:
    """What ``ConfigurationBotFrameworkAuthentication`` reads, under its own names."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    # None everywhere: Microsoft's public cloud, as botbuilder sets it up itself; with a
    # metadata URL, the rest spelled out (``_spelled_out``).
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None = None
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None = None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None = None
    OAUTH_URL: str | None = None
    CALLER_ID: str | None = None


class Gate:
    def __init__(
        self,
        credentials: AppCredentials,
        *,
        timeout: float = 5.0,
        metadata_url: str = "",
    ) -> None:
        self._app_id = credentials.app_id
        self._timeout = timeout
        self._configuration = _Configuration(
            credentials.app_id,
            credentials.app_password,
            credentials.app_type,
            credentials.tenant_id,
            metadata_url or None,
        )
        self._authentication: ConfigurationBotFrameworkAuthentication | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def authenticated(self) -> bool:
        return bool(self._app_id)

    def authentication(self) -> ConfigurationBotFrameworkAuthentication:
        """botbuilder's authentication, built at first use (on the event loop's thread: the
        validating threads only read it)."""
        if self._authentication is None:
            from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication

            self._authentication = ConfigurationBotFrameworkAuthentication(
                _spelled_out(self._configuration)
            )
        return self._authentication

    async def check(self, raw: dict[str, Any], header: str) -> AuthenticateRequestResult | None:
        """Raise ``Refused`` or ``Unavailable``, or return botbuilder's result for the
        activity ``raw``; None without an app id, where there is nothing to check (see
        ``anonymous``)."""
        if not self._app_id:
            return None
        token = _shape(header)
        from botbuilder.schema import Activity

        # What token validation reads; the whole activity is parsed only for a turn.
        activity = Activity(
            type=raw["type"],
            channel_id=str(raw.get("channelId") or ""),
            service_url=str(raw.get("serviceUrl") or ""),
        )
        authentication = self.authentication()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(AUTH_THREADS, thread_name_prefix="copbot-teams-auth")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, _validate, authentication, activity, token)
        try:
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            raise Unavailable from None
        except Refused:
            raise
        except Exception as e:  # forged, wrong audience, unknown key: all refusals
            raise Refused(type(e).__name__) from None

    async def anonymous(self, activity: Activity) -> AuthenticateRequestResult:
        """Without an app id botbuilder accepts anonymous activities (local testing only)
        when told there is no header at all (None; an empty one fails with a 500)."""
        result: AuthenticateRequestResult = await self.authentication().authenticate_request(
            activity, None
        )
        return result

    def close(self) -> None:
        if self._pool is not None:
            # A thread stuck on a key fetch ends with its connection; nobody waits for it.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _validate(
    authentication: ConfigurationBotFrameworkAuthentication, activity: Activity, token: str
) -> AuthenticateRequestResult:
    # On a worker thread, with a loop of its own: botbuilder's key fetch blocks.
    result: AuthenticateRequestResult = asyncio.run(
        authentication.authenticate_request(activity, f"Bearer {token}")
    )
    if result.claims_identity is None or not result.claims_identity.is_authenticated:
        raise Refused("not authenticated")
    return result


def _spelled_out(configuration: _Configuration) -> _Configuration:
    """Tests point the key metadata at a fake on loopback; then botbuilder takes its
    "parameterized" path, which needs the public cloud's other values spelled out."""
    if not configuration.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL:
        return configuration
    from botbuilder.schema import CallerIdConstants
    from botframework.connector.auth import AuthenticationConstants as Constants

    return replace(
        configuration,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=Constants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=Constants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=Constants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        OAUTH_URL=Constants.OAUTH_URL,
        CALLER_ID=CallerIdConstants.public_azure_channel,
    )


def _shape(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise Refused("no bearer token")
    import jwt  # with cryptography: only where tokens are checked

    try:
        head = jwt.get_unverified_header(token)
        claims: Any = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Refused("malformed token") from None
    if head.get("alg") != "RS256" or not head.get("kid"):
        raise Refused("unexpected signing algorithm or key")
    if not isinstance(claims, dict) or not isinstance(claims.get("iss"), str):
        raise Refused("malformed token")
    if claims["iss"] != CHANNEL_ISSUER:
        raise Refused("not issued by the Bot Framework channel service")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires < time.time() - CLOCK_SKEW:
        raise Refused("expired token")
    return token
