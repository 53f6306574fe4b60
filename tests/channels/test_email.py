"""The email channel: Django's mail API, anymail ESPs over HTTP, SMTP errors."""

import email
import email.policy
import re
import smtplib
import socket

import pytest
import requests
from anymail.exceptions import AnymailAPIError, AnymailError
from django.core import mail

from order_updates.exceptions import (
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    TransientChannelError,
)
from order_updates.notifications import links
from order_updates.notifications.channels.base import OutgoingMessage
from order_updates.notifications.channels.email import (
    HAS_MAILERS,
    EmailChannel,
    classify_error,
)
from tests.http_mock import form_body, json_body

from .smtp_server import ScriptedSMTPServer

MAILGUN_URL = "https://api.mailgun.net/v3/shop.example.com/messages"
POSTMARK_URL = "https://api.postmarkapp.com/email"
UNSUBSCRIBE = "<https://shop.example.com/order-updates/unsubscribe/tok/>"


def outgoing(**overrides):
    values = {
        "notification_id": 42,
        "channel": "email",
        "type": "order_shipped",
        "recipient": "ada@example.com",
        "language": "en",
        "subject": "Your order is on its way",
        "text": "Order PS-1 has shipped.",
        "html": '<p style="color: red">Order PS-1 has <b>shipped</b>.</p>',
        "url": "https://shop.example.com/t/abc/",
        "headers": {
            "List-Unsubscribe": UNSUBSCRIBE,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "metadata": {
            "order_updates_notification": "42",
            "order_updates_type": "order_shipped",
            "order_updates_order": "PS-1",
        },
        "tags": ["order_updates", "order_shipped"],
    }
    values.update(overrides)
    return OutgoingMessage(**values)


@pytest.fixture
def channel():
    """The email channel with its options: a From and a Reply-To address."""
    return EmailChannel(
        "email",
        from_email="Shop <orders@shop.example.com>",
        reply_to=["help@shop.example.com"],
    )


@pytest.fixture
def mailgun(settings):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test"}


@pytest.fixture
def postmark(settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token"}


# Recipients and building --------------------------------------------------------------


def test_recipient_is_the_orders_email(channel, make_order):
    from order_updates.core.adapter import get_adapter

    order = make_order(email="Ada@Example.com")
    assert channel.recipients(order, get_adapter(), None) == ["Ada@Example.com"]


def test_no_email_no_recipient(channel, make_order):
    from order_updates.core.adapter import get_adapter

    order = make_order(email="")
    assert channel.recipients(order, get_adapter(), None) == []


def test_build_message_adds_one_click_unsubscribe(channel, order, make_notification):
    from order_updates.core.adapter import get_adapter

    notification = make_notification(order, recipient="ada@example.com")
    message = channel.build_message(notification, order)

    url = links.unsubscribe_url(notification)
    assert url.startswith("https://shop.example.com/")
    assert message.headers["List-Unsubscribe"] == "<%s>" % url
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.recipient == "ada@example.com"
    assert message.channel == "email"
    assert message.subject and message.text and message.html
    assert message.metadata == {
        "order_updates_notification": str(notification.pk),
        "order_updates_type": "order_confirmed",
        "order_updates_order": get_adapter().get_number(order),
    }
    assert message.tags == ["order_updates", "order_confirmed"]


def test_build_message_needs_site_url(
    channel, order, make_notification, order_updates_settings
):
    notification = make_notification(order, recipient="ada@example.com")
    order_updates_settings(SITE_URL=None)
    with pytest.raises(OrderUpdatesConfigurationError, match="SITE_URL"):
        channel.build_message(notification, order)


# Sending with Django's backends -------------------------------------------------------


def test_send_with_locmem(channel):
    result = channel.send(outgoing())

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ada@example.com"]
    assert sent.from_email == "Shop <orders@shop.example.com>"
    assert sent.reply_to == ["help@shop.example.com"]
    assert sent.subject == "Your order is on its way"
    assert sent.body == "Order PS-1 has shipped."
    assert sent.alternatives[0][1] == "text/html"
    assert "<b>shipped</b>" in sent.alternatives[0][0]
    assert sent.metadata["order_updates_order"] == "PS-1"
    assert sent.tags == ["order_updates", "order_shipped"]

    mime = sent.message()
    assert mime["List-Unsubscribe"] == UNSUBSCRIBE
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime["Message-ID"].endswith("@shop.example.com>")
    assert result.provider == "django.core.mail.backends.locmem.EmailBackend"
    assert result.message_id == mime["Message-ID"]


def _parts(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return parsed.get_boundary(), [
        (part.get_content_type(), part.get_content()) for part in parsed.iter_parts()
    ]


def test_the_mime_boundary_is_chosen_once_and_parses(channel):
    channel.send(outgoing())
    raw = mail.outbox[0].message().as_bytes()

    boundary, parts = _parts(raw)
    assert re.fullmatch(r"==order_updates_[0-9a-f]{32}==", boundary)
    assert raw.count(("--%s" % boundary).encode()) == 3  # two parts, the end
    assert [kind for kind, _content in parts] == ["text/plain", "text/html"]
    assert parts[0][1].strip() == "Order PS-1 has shipped."
    assert "<b>shipped</b>" in parts[1][1]


def test_a_boundary_found_in_a_part_is_left_to_the_standard_library(
    channel, monkeypatch
):
    taken = "==order_updates_%s==" % ("0" * 32)
    monkeypatch.setattr(
        "order_updates.notifications.channels.email.new_boundary", lambda: taken
    )
    channel.send(outgoing(text="Quoting %s here." % taken))
    raw = mail.outbox[0].message().as_bytes()

    boundary, parts = _parts(raw)
    assert boundary != taken and not boundary.startswith("==order_updates_")
    assert parts[0][1].strip() == "Quoting %s here." % taken


def test_from_defaults_to_default_from_email(settings):
    channel = EmailChannel("email", reply_to="help@example.com")
    settings.DEFAULT_FROM_EMAIL = "Default <default@example.com>"
    channel.send(outgoing(html=""))

    sent = mail.outbox[0]
    assert sent.from_email == "Default <default@example.com>"
    assert sent.reply_to == ["help@example.com"]
    assert sent.alternatives == []


@pytest.mark.skipif(HAS_MAILERS, reason="Django 6.1+ has MAILERS")
def test_email_mailer_needs_django_61():
    channel = EmailChannel("email", mailer="transactional")
    key = "ORDER_UPDATES['CHANNELS']['email']['OPTIONS']['mailer']"
    with pytest.raises(OrderUpdatesConfigurationError, match=re.escape(key)):
        channel.send(outgoing())
    assert any(key in problem for problem in channel.check())


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS needs Django 6.1+")
def test_email_mailer_picks_the_mailer(settings):
    locmem = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    settings.MAILERS = {"default": locmem, "transactional": locmem}
    channel = EmailChannel("email", mailer="transactional")
    channel.send(outgoing())
    assert mail.outbox[-1].sent_using == "transactional"
    assert channel.check() == []


# A real anymail backend, mocked at the HTTP layer -------------------------------------


def test_mailgun_receives_metadata_tags_and_headers(channel, mailgun, http):
    http.add(
        "POST",
        MAILGUN_URL,
        json={"id": "<20260101.1@shop.example.com>", "message": "Queued."},
    )
    result = channel.send(outgoing())

    request = http.last_request
    form = form_body(request)
    assert form["to"] == ["ada@example.com"]
    assert form["from"] == ["Shop <orders@shop.example.com>"]
    assert form["h:Reply-To"] == ["help@shop.example.com"]
    assert form["subject"] == ["Your order is on its way"]
    assert form["text"] == ["Order PS-1 has shipped."]
    assert "<b>shipped</b>" in form["html"][0]
    assert form["h:List-Unsubscribe"] == [UNSUBSCRIBE]
    assert form["h:List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    assert form["v:order_updates_notification"] == ["42"]
    assert form["v:order_updates_order"] == ["PS-1"]
    assert form["o:tag"] == ["order_updates", "order_shipped"]
    # Anymail ESPs assign the message id; ours is not sent.
    assert "h:Message-Id" not in form
    assert request.headers["Authorization"].startswith("Basic ")
    assert result.provider == "anymail:mailgun"
    assert result.message_id == "<20260101.1@shop.example.com>"


def test_postmark_json_payload_and_single_tag(channel, postmark, http):
    http.add(
        "POST",
        POSTMARK_URL,
        json={
            "To": "ada@example.com",
            "SubmittedAt": "2026-01-01T10:00:00Z",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
            "ErrorCode": 0,
            "Message": "OK",
        },
    )
    result = channel.send(outgoing())

    # Postmark takes one tag: the most specific is kept, in a single request.
    assert len(http.calls) == 1
    payload = json_body(http.last_request)
    assert payload["To"] == "ada@example.com"
    assert payload["From"] == "Shop <orders@shop.example.com>"
    assert payload["ReplyTo"] == "help@shop.example.com"
    assert payload["Subject"] == "Your order is on its way"
    assert payload["TextBody"] == "Order PS-1 has shipped."
    assert "<b>shipped</b>" in payload["HtmlBody"]
    assert payload["Tag"] == "order_shipped"
    assert payload["Metadata"] == {
        "order_updates_notification": "42",
        "order_updates_type": "order_shipped",
        "order_updates_order": "PS-1",
    }
    assert {"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE} in payload["Headers"]
    assert {
        "Name": "List-Unsubscribe-Post",
        "Value": "List-Unsubscribe=One-Click",
    } in payload["Headers"]
    assert http.last_request.headers["X-Postmark-Server-Token"] == "server-token"
    assert result.provider == "anymail:postmark"
    assert result.message_id == "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, PermanentChannelError),
        (401, PermanentChannelError),
        (403, PermanentChannelError),
        (408, TransientChannelError),
        (429, TransientChannelError),
        (500, TransientChannelError),
        (503, TransientChannelError),
    ],
)
def test_anymail_api_errors(channel, mailgun, http, status, expected):
    http.add("POST", MAILGUN_URL, status=status, json={"message": "nope"})
    with pytest.raises(expected) as info:
        channel.send(outgoing())
    assert type(info.value) is expected
    assert isinstance(info.value.__cause__, AnymailAPIError)


@pytest.mark.parametrize(
    "error", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")]
)
def test_anymail_network_errors_are_transient(channel, mailgun, http, error):
    http.add_error("POST", MAILGUN_URL, error)
    with pytest.raises(TransientChannelError):
        channel.send(outgoing())


@pytest.mark.parametrize(
    ("error_code", "message"),
    [
        (
            406,
            "You tried to send to a recipient that has been marked as inactive.\n"
            "Found inactive addresses: ada@example.com.\n"
            "Inactive recipients are ones that have generated a hard bounce or a "
            "spam complaint.",
        ),
        (300, "Invalid 'To' address: 'ada@example.com'."),
    ],
)
def test_postmark_refused_recipient_is_permanent(
    channel, postmark, http, error_code, message
):
    http.add(
        "POST",
        POSTMARK_URL,
        status=422,
        json={"ErrorCode": error_code, "Message": message},
    )
    with pytest.raises(PermanentChannelError) as info:
        channel.send(outgoing())
    assert type(info.value.__cause__).__name__ == "AnymailRecipientsRefused"


def test_anymail_invalid_address_is_permanent(channel, mailgun, http):
    with pytest.raises(PermanentChannelError) as info:
        channel.send(outgoing(recipient="not an address@@"))
    assert type(info.value.__cause__).__name__ == "AnymailInvalidAddress"
    assert len(http.calls) == 0  # nothing left the machine


# SMTP, against a scripted server on a real socket -------------------------------------


@pytest.fixture
def use_smtp(settings):
    def configure(port, **options):
        options = {"host": "127.0.0.1", "port": port, "timeout": 1, **options}
        backend = "django.core.mail.backends.smtp.EmailBackend"
        if HAS_MAILERS:
            settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": options}}
        else:
            settings.EMAIL_BACKEND = backend
            settings.EMAIL_HOST = options["host"]
            settings.EMAIL_PORT = options["port"]
            settings.EMAIL_TIMEOUT = options["timeout"]
            settings.EMAIL_HOST_USER = options.get("username", "")
            settings.EMAIL_HOST_PASSWORD = options.get("password", "")

    return configure


def test_smtp_delivers(channel, use_smtp):
    with ScriptedSMTPServer() as server:
        use_smtp(server.port)
        result = channel.send(outgoing())
    assert result.provider == "django.core.mail.backends.smtp.EmailBackend"
    assert len(server.messages) == 1
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in server.messages[0]
    assert result.message_id.encode() in server.messages[0]


@pytest.mark.parametrize(
    ("replies", "expected", "cause"),
    [
        (
            {"RCPT": "550 5.1.1 No such user"},
            PermanentChannelError,
            smtplib.SMTPRecipientsRefused,
        ),
        (
            {"RCPT": "452 4.2.2 Mailbox full"},
            TransientChannelError,
            smtplib.SMTPRecipientsRefused,
        ),
        (
            {"MAIL": "553 5.7.1 Sender rejected"},
            PermanentChannelError,
            smtplib.SMTPSenderRefused,
        ),
        (
            {"MAIL": "451 4.3.0 Try later"},
            TransientChannelError,
            smtplib.SMTPSenderRefused,
        ),
        ({"END_DATA": "554 5.7.1 Spam"}, PermanentChannelError, smtplib.SMTPDataError),
        (
            {"END_DATA": "451 4.7.1 Greylisted"},
            TransientChannelError,
            smtplib.SMTPDataError,
        ),
    ],
)
def test_smtp_reply_codes(channel, use_smtp, replies, expected, cause):
    with ScriptedSMTPServer(replies) as server:
        use_smtp(server.port)
        with pytest.raises(expected) as info:
            channel.send(outgoing())
    assert type(info.value) is expected
    assert type(info.value.__cause__) is cause


def test_smtp_bad_credentials_are_permanent(channel, use_smtp):
    replies = {"AUTH": "535 5.7.8 Authentication credentials invalid"}
    with ScriptedSMTPServer(replies) as server:
        use_smtp(server.port, username="shop", password="wrong")
        with pytest.raises(PermanentChannelError, match="credentials"):
            channel.send(outgoing())


def test_smtp_disconnect_is_transient(channel, use_smtp):
    with ScriptedSMTPServer(drop_after_greeting=True) as server:
        use_smtp(server.port)
        with pytest.raises(TransientChannelError) as info:
            channel.send(outgoing())
    assert isinstance(info.value.__cause__, smtplib.SMTPServerDisconnected)


def test_smtp_timeout_is_transient(channel, use_smtp):
    with ScriptedSMTPServer(greet=False) as server:
        use_smtp(server.port, timeout=0.3)
        with pytest.raises(TransientChannelError):
            channel.send(outgoing())


def test_smtp_connection_refused_is_transient(channel, use_smtp):
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    use_smtp(port)
    with pytest.raises(TransientChannelError) as info:
        channel.send(outgoing())
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


# Classification of errors no server above produces ------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (smtplib.SMTPConnectError(421, b"Too busy"), TransientChannelError),
        (smtplib.SMTPHeloError(501, b"Bad HELO"), PermanentChannelError),
        (smtplib.SMTPNotSupportedError("no SMTPUTF8"), PermanentChannelError),
        (TimeoutError("timed out"), TransientChannelError),
        (AnymailAPIError("no answer"), TransientChannelError),
        (
            AnymailError("Cannot call Mailgun unknown sender domain"),
            PermanentChannelError,
        ),
    ],
)
def test_classify_error(error, expected):
    assert type(classify_error(error)) is expected


def test_unrelated_errors_are_not_classified():
    assert classify_error(KeyError("x")) is None


# Configuration checks -----------------------------------------------------------------


def test_check_ok(channel):
    assert channel.check() == []


def test_check_reports_missing_site_url_and_placeholder_from(
    settings, order_updates_settings
):
    channel = EmailChannel("email")
    order_updates_settings(SITE_URL=None)
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    problems = channel.check()
    assert len(problems) == 2
    assert "SITE_URL" in problems[0]
    assert "webmaster@localhost" in problems[1]
    assert "ORDER_UPDATES['CHANNELS']['email']['OPTIONS']['from_email']" in problems[1]
    settings.DEFAULT_FROM_EMAIL = ""
    assert "emails need a from address" in channel.check()[1]
    assert EmailChannel("email", from_email="shop@example.com").check()[1:] == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("from_email", ["a@example.com"]), ("reply_to", [1]), ("mailer", 1)],
)
def test_bad_option_values_name_the_option(option, value):
    with pytest.raises(OrderUpdatesConfigurationError, match="Option %r" % option):
        EmailChannel("email", **{option: value})


def test_addresses_are_compared_lower_cased(channel):
    assert channel.normalize_address("  Ada@Example.COM ") == "ada@example.com"
