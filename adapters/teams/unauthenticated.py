"""What Teams without authentication (``COPBOT_TEAMS=on``, no ``MicrosoftAppId``) takes: only
what a local emulator sends.

Without a token anyone who reaches ``/api/messages`` can act as anyone, so the playground's
rules apply: a page on another site must not drive it (a browser names the page in
``Origin``, and can send a non-JSON body without asking first), nor a page on a name made
to resolve to this machine (DNS rebinding names another ``Host``). And without a token's
``serviceurl`` claim, the activity's ``serviceUrl`` would choose where copbot sends its
requests: only this machine's, or those ``COPBOT_TEAMS_SERVICE_URLS`` names, are called.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from adapters.local.guard import Served
from adapters.local.requests import local_address

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def site_of(url: str) -> str | None:
    """ "http://Host:80/path" -> "http://host:80"; None for what isn't a plain http(s)
    address (no user part, no spaces, no odd characters a client might read otherwise)."""
    if not url.isascii() or any(c.isspace() or c in "\\@" for c in url) or not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    host = parts.hostname.rstrip(".")
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _loopback(site: str) -> bool:
    host = urlsplit(site).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LocalOnly:
    """The checks, given where copbot is served and the extra service URLs allowed."""

    public_url: str
    service_sites: frozenset[str]  # as site_of gives them

    @classmethod
    def of(cls, public_url: str, service_urls: Iterable[str]) -> LocalOnly:
        sites = (site_of(u) for u in service_urls)
        return cls(public_url, frozenset(s for s in sites if s is not None))

    def refuse_request(self, request: web.Request) -> Refusal | None:
        """Before the body is read: who sent it, to which address, in what form."""
        if "Origin" in request.headers:
            return Refusal(403, "requests from web pages are not accepted")
        if not Served(self.public_url, local_address(request)).accepts(request.headers.get("Host")):
            return Refusal(421, "addressed to another host")
        if request.content_type != "application/json":
            return Refusal(415, "send JSON (Content-Type: application/json)")
        return None

    def calls_back(self, service_url: object) -> bool:
        """Whether copbot may send requests to the activity's ``serviceUrl``."""
        return isinstance(service_url, str) and _may_call(service_url, self.service_sites)


# Every activity names its serviceUrl, and an emulator or a test names the same few.
@functools.lru_cache(maxsize=64)
def _may_call(service_url: str, service_sites: frozenset[str]) -> bool:
    site = site_of(service_url)
    return site is not None and (_loopback(site) or site in service_sites)
