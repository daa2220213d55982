"""No server-side request forgery: OrderHub calls only public addresses unless told otherwise.

Endpoint URLs (webhooks, robots, SMS gateways) and SMTP hosts are typed by administrators and
then called by the server, so without a guard they reach the machine's own services
(``127.0.0.1:6379``), the intranet, or a cloud's metadata service (``169.254.169.254``).

* On save, ``check_target`` resolves the host and refuses it if any address it resolves to is
  loopback, private (RFC 1918, unique local), link-local, multicast, unspecified or otherwise
  not global.
* At delivery, ``create_connection`` resolves once, checks every address, and connects to the
  checked address itself, so a name that resolved to a public address on save and to
  ``127.0.0.1`` now (DNS rebinding) is refused. Senders follow no redirects and use no proxy
  from the environment.

Both are off when the administrator allows private targets (``NotifySettings``): intranet
installs send to a WeCom gateway on ``10.x`` as a matter of course.
"""

from __future__ import annotations

import ipaddress
import socket

_DEFAULT_TIMEOUT = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT", None)   # what http.client passes by default
# the resolver (a module attribute so that a test can stand in for DNS)
getaddrinfo = socket.getaddrinfo


class BlockedTarget(OSError):
    """The host resolves to an address OrderHub does not call."""

    def __init__(self, host: str, address: str, reason: str):
        super().__init__(f"{host} -> {address} ({reason})")
        self.host, self.address, self.reason = host, address, reason


class Unresolvable(OSError):
    def __init__(self, host: str, detail: str):
        super().__init__(f"{host}: {detail}")
        self.host, self.detail = host, detail


def forbidden_reason(address: str) -> str | None:
    """Why OrderHub does not call ``address`` ("loopback", "private", …), or None if it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "invalid"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def resolve(host: str, port: int) -> list[tuple]:
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise Unresolvable(host, str(e)) from None
    if not infos:
        raise Unresolvable(host, "no address")
    return infos


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[tuple]:
    """``getaddrinfo`` results for ``host``, every one of them allowed (else BlockedTarget)."""
    infos = resolve(host, port)
    if not allow_private:
        for info in infos:
            address = info[4][0]
            reason = forbidden_reason(address)
            if reason:
                raise BlockedTarget(host, address, reason)
    return infos


def check_target(host: str, port: int, *, allow_private: bool) -> None:
    """Refuse (BlockedTarget, Unresolvable) a host OrderHub must not call; on save."""
    if allow_private:
        return
    checked_addresses(host, port, allow_private=False)


def create_connection(address: tuple[str, int], timeout: float | None = None,
                      source_address: tuple[str, int] | None = None, *, allow_private: bool) -> socket.socket:
    """``socket.create_connection`` that connects only to the addresses it checked."""
    host, port = address
    error: OSError | None = None
    for family, type_, proto, _canon, sockaddr in checked_addresses(host, port, allow_private=allow_private):
        sock = socket.socket(family, type_, proto)
        try:
            if timeout is not None and timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            error = e
            sock.close()
    raise error or OSError(f"could not connect to {host}:{port}")
