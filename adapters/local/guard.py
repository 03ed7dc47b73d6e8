"""Which requests the playground takes: those addressed to copbot itself.

The playground lets anyone act as anyone, so a page on another site must not drive it.
A browser's same-origin rule is no help against DNS rebinding (evil.example made to
resolve to 127.0.0.1 is, to the browser, evil.example), but such a page's requests name
evil.example in ``Host``: only the addresses copbot serves are accepted there.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Served:
    """Where copbot is reached: its public address (COPBOT_PUBLIC_URL, or what `copbot
    serve` bound) and the local end of the connection the request came in on."""

    public_url: str
    local: tuple[str, int] | None

    def hosts(self) -> frozenset[str]:
        return _hosts(self.public_url, self.local)

    def accepts(self, host_header: str | None) -> bool:
        if host_header is None:  # HTTP/1.0 without Host: the connection's own address
            return True
        host = host_header.strip().lower().rstrip(".")
        return host in self.hosts() or _this_machine(host)


# Worked out once for each of the few addresses copbot listens on, not for every request.
@functools.lru_cache(maxsize=32)
def _hosts(public_url: str, local: tuple[str, int] | None) -> frozenset[str]:
    names: set[str] = set()
    if public_url:
        parts = urlsplit(public_url)
        if parts.hostname:
            try:
                port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
            except ValueError:
                port = DEFAULT_PORTS.get(parts.scheme, 80)
            names |= _forms(parts.hostname, port, parts.scheme)
    if local is not None:
        host, port = local
        names |= _forms(host, port, "http")
        if _loopback(host):
            # Someone at this machine typing localhost: not a name another site controls.
            names |= _forms("localhost", port, "http")
    return frozenset(names)


def _forms(host: str, port: int, scheme: str) -> set[str]:
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    forms = {f"{host}:{port}"}
    if DEFAULT_PORTS.get(scheme) == port:
        forms.add(host)
    return forms


def _this_machine(host: str) -> bool:
    """A name for this machine, at any port: no other site controls it (a rebound page's
    requests name the page's own host), and behind a port mapping (Docker's ``-p
    8080:3978``) the browser's port is not the one copbot listens on."""
    try:
        parts = urlsplit(f"//{host}")
        _ = parts.port  # a port that is no number raises here
    except ValueError:
        return False
    return parts.hostname in ("localhost", "127.0.0.1", "::1") and "@" not in host


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
