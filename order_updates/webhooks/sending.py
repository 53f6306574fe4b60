"""One POST of a webhook: to the checked address, without following redirects."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from order_updates.webhooks import targets

#: Characters of an answer's body kept in the attempt's record.
RESPONSE_KEPT = 1000
#: Bytes of an answer read at most.
RESPONSE_READ = 64 * 1024


@dataclass
class Answer:
    """What an endpoint answered to one POST."""

    status: int
    body: str
    duration_ms: int


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a given address, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a given address, the certificate checked against the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body`` to ``url`` after checking the address its host resolves to.

    Raises :class:`~order_updates.exceptions.UnsafeWebhookTarget` for a refused
    address, ``OSError`` (``TimeoutError``, ``ConnectionRefusedError``…) or
    ``http.client.HTTPException`` when no answer came.
    """
    parts, address = targets.resolve(url)
    connection_class = (
        _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_class(
        parts.hostname or "", targets.port_of(parts), address, timeout
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={**headers, "User-Agent": "order_updates-webhooks"},
        )
        response = connection.getresponse()
        content = response.read(RESPONSE_READ)
    finally:
        connection.close()
    return Answer(
        status=response.status,
        body=content.decode("utf-8", "replace")[:RESPONSE_KEPT],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
