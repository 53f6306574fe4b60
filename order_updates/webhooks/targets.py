"""Where webhooks may go: http(s) URLs whose addresses are on the internet.

A URL is checked when an endpoint is saved, and again at every send on the
addresses its host resolves to then; the request goes to the address that was
checked, so a name that resolves elsewhere a second time (DNS rebinding) cannot
lead it to the shop's own network. ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` lets
private, loopback and link-local addresses through (a test, an intranet).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from django.utils.translation import gettext as _

from order_updates.conf import app_settings
from order_updates.exceptions import UnsafeWebhookTarget

SCHEMES = {"http": 80, "https": 443}


def parse(url: str) -> SplitResult:
    """The parts of a webhook URL, refused unless it is http(s) with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as exc:
        raise UnsafeWebhookTarget(_("Not a valid URL: %s") % exc) from exc
    if parts.scheme not in SCHEMES:
        raise UnsafeWebhookTarget(_("Only http and https URLs can receive webhooks."))
    if not parts.hostname:
        raise UnsafeWebhookTarget(_("The URL has no host."))
    if parts.username or parts.password:
        raise UnsafeWebhookTarget(
            _("Put no user name or password in the URL; requests are signed.")
        )
    return parts


def port_of(parts: SplitResult) -> int:
    return parts.port or SCHEMES[parts.scheme]


def check_address(address: str) -> None:
    """Refuse an address outside the public internet (unless the setting allows)."""
    if app_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise UnsafeWebhookTarget(
            _(
                "%(address)s is a private, loopback, link-local or reserved "
                "address; webhooks go only to addresses on the internet."
            )
            % {"address": ip}
        )


def resolve(url: str) -> tuple[SplitResult, str]:
    """The URL's parts and the checked address to connect to.

    Every address the host resolves to must pass :func:`check_address`.
    """
    parts = parse(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, port_of(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolved(
            _("The host %(host)s could not be resolved: %(error)s")
            % {"host": host, "error": exc}
        ) from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise Unresolved(_("The host %(host)s has no address.") % {"host": host})
    for address in addresses:
        check_address(address)
    return parts, addresses[0]


class Unresolved(UnsafeWebhookTarget):
    """The host has no address now."""


def validate_url(url: str) -> None:
    """What an endpoint's URL must pass to be saved (raises UnsafeWebhookTarget).

    A host that does not resolve yet is accepted (a receiver not yet set up);
    its addresses are checked at every send.
    """
    with contextlib.suppress(Unresolved):
        resolve(url)
