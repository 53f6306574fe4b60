"""The suite's one way to fake external HTTP APIs: ``responses``, at the transport.

Everything above requests' transport adapter runs for real (anymail building an
ESP payload, pywebpush encrypting, our SMS providers); only the network is
replaced. A request to a URL no test registered fails with ConnectionError, and a
registered response that is never requested fails the test.

Use the ``http`` fixture (import it into a conftest.py)::

    def test_twilio(http):
        http.add("POST", TWILIO_URL, status=201, json={"sid": "SM1"})
        ...
        assert form_body(http.last_request)["To"] == ["+14155550100"]
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import urllib.parse
from typing import Any

import pytest
import requests
import responses


class HTTPMock(responses.RequestsMock):
    """A ``responses.RequestsMock`` with helpers to read what was sent."""

    def __init__(self, *, assert_all_requests_are_fired: bool = True):
        super().__init__(assert_all_requests_are_fired=assert_all_requests_are_fired)

    @property
    def requests(self) -> list[requests.PreparedRequest]:
        """Every request made, in order."""
        return [call.request for call in self.calls]

    @property
    def last_request(self) -> requests.PreparedRequest:
        """The most recent request (fails if there was none)."""
        assert self.calls, "No HTTP request was made."
        return self.calls[-1].request

    def add_error(self, method: str, url: str, error: Exception) -> None:
        """Make a request to ``url`` raise ``error`` (a timeout, a refusal…)."""
        self.add(method, url, body=error)


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body or b""
    return body.encode() if isinstance(body, str) else body


def json_body(request: requests.PreparedRequest) -> Any:
    """The request's JSON body, decoded."""
    return json.loads(_body_bytes(request))


def form_body(request: requests.PreparedRequest) -> dict[str, list[str]]:
    """The request's form fields (urlencoded or multipart), each a list of values."""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: "
            + content_type.encode()
            + b"\r\n\r\n"
            + _body_bytes(request)
        )
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields.setdefault(name, []).append(part.get_content())
        return fields
    return urllib.parse.parse_qs(
        _body_bytes(request).decode(), keep_blank_values=True, strict_parsing=False
    )


@pytest.fixture
def http():
    """Fake the network for requests; yields an :class:`HTTPMock`."""
    with HTTPMock() as mock:
        yield mock
