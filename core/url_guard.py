"""The one gate for fetching a URL that came from a user (a "GIF link" someday): nothing is
fetched unless its host is on the allowlist (``fetch_allowed_hosts``: exact names, or
``.example.com`` for subdomains) and every address it resolves to is public. Loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are
refused, IPv6 and IPv4-mapped forms included.

``check_url`` returns the addresses it checked: connect to one of those (with the host name as
TLS server name and Host header), never resolve again, so a DNS answer that changes between the
check and the fetch (rebinding) cannot reach an internal address. Redirects must go through
``check_url`` again. Today no entry point fetches user URLs (Telegram and Discord hand files
over through their own APIs); this is what one must use.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import InputError


class UrlRefused(InputError):
    code = "url_refused"


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def host_allowed(host: str, allowed: Collection[str]) -> bool:
    host = host.lower().rstrip(".")
    for given in allowed:
        entry = given.lower().rstrip(".")
        if host == entry or (entry.startswith(".") and host.endswith(entry)):
            return True
    return False


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def check_url(url: str, allowed: Collection[str]) -> CheckedUrl:
    """Refuse (``UrlRefused``, one sentence) unless ``url`` is https, its host allowlisted, and
    every address it resolves to public. Returns the addresses to connect to."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme != "https" or not host:
        raise UrlRefused("Only https links can be used.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Links with a user name or password cannot be used.")
    if not host_allowed(host, allowed):
        raise UrlRefused(f"Links to {host} cannot be used; send the file itself instead.")
    try:
        port = parts.port or 443
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        raise UrlRefused(f"The address {host} cannot be found.") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses or not all(public_address(a) for a in addresses):
        raise UrlRefused(f"Links to {host} cannot be used: it points inside a private network.")
    return CheckedUrl(url=url.strip(), host=host, port=port, addresses=addresses)
