"""The address policy of webhook URLs (SSRF guard), applied at registration and again at
every attempt, since DNS answers can change between the two.

Only `http` and `https`, no user info in the URL. The host is resolved once; every address
it resolves to must be public — not loopback, private (RFC 1918), link-local, CGNAT
(100.64.0.0/10), multicast, reserved, unspecified, or IPv6 ULA / link-local — unless
`WEBHOOK_ALLOW_HOSTS` allows the host name or a CIDR holding the address. The dispatcher
then connects to the checked address itself (the URL's host becomes that IP; `Host` and
TLS SNI / certificate checks keep the name), so nothing resolves the name a second time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

POLICY = (
    "Webhook URLs must be http(s) and resolve only to public addresses (not loopback, "
    "private, link-local, CGNAT, multicast, reserved, or IPv6 ULA/link-local) unless the "
    "WEBHOOK_ALLOW_HOSTS setting allows the host or its address."
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_IPV6_ULA = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL breaks the address policy; the message says which rule and names the setting."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} {POLICY}")
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `address`, send `host_header`, use `hostname` for TLS."""

    scheme: str
    hostname: str
    port: int
    address: str
    path: str
    host_header: str

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        ip = ipaddress.ip_address(self.address)
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{self.scheme}://{host}:{self.port}{self.path}"


@dataclass(frozen=True)
class AllowList:
    """`WEBHOOK_ALLOW_HOSTS`: host names (case-insensitive) and CIDR networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, setting: str) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip() for part in setting.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, hostname: str, address: IPAddress) -> bool:
        if hostname.lower().rstrip(".") in self.hosts:
            return True
        return any(address in network for network in self.networks)


def address_class(address: IPAddress) -> str | None:
    """The refused class `address` belongs to, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address to a gateway are judged by that address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
    checks: list[tuple[bool, str]] = [
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "CGNAT"),
        (isinstance(address, ipaddress.IPv6Address) and address in _IPV6_ULA, "IPv6 ULA"),
        (
            isinstance(address, ipaddress.IPv4Address) and any(address in n for n in _RFC1918),
            "private",
        ),
        (address.is_reserved, "reserved"),
    ]
    for hit, name in checks:
        if hit:
            return name
    # Anything else IANA does not call globally reachable (documentation, benchmarking
    # and other special-purpose ranges).
    return None if address.is_global else "reserved"


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (A and AAAA)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, hostname, port, path with query) of an http(s) URL, or AddressRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused("The URL is malformed.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused("Only http and https URLs are accepted.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("A URL must not carry credentials (user info).")
    if not parts.hostname:
        raise AddressRefused("The URL has no host.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


async def check_url(url: str, allow: AllowList, resolver: Resolver = system_resolver) -> Target:
    """Resolve the URL's host once and check every address; the target to connect to."""
    scheme, hostname, port, path = parse_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(hostname)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(hostname, port)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"The host {hostname!r} does not resolve.") from exc
        if not addresses:
            raise AddressRefused(f"The host {hostname!r} does not resolve.")
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        refused = address_class(address)
        if refused is not None and not allow.allows(hostname, address):
            raise AddressRefused(
                f"The host {hostname!r} resolves to {address}, a {refused} address."
            )
    default_port = 443 if scheme == "https" else 80
    host_header = (
        hostname if literal is None else (f"[{literal}]" if literal.version == 6 else hostname)
    )
    if port != default_port:
        host_header = f"{host_header}:{port}"
    return Target(
        scheme=scheme,
        hostname=hostname,
        port=port,
        address=addresses[0].split("%", 1)[0],
        path=path,
        host_header=host_header,
    )
