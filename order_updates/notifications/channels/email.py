"""Email through Django's mail API, so any email backend works.

The message is multipart (text, and HTML whose CSS templating has inlined), has RFC 8058
one-click ``List-Unsubscribe`` headers, and, when the backend is django-anymail's,
``metadata`` and ``tags`` that the ESP reports back in its tracking webhooks.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

import django
from anymail.backends.base import AnymailBaseBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from order_updates.conf import app_settings
from order_updates.exceptions import (
    ChannelError,
    InvalidOption,
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    TransientChannelError,
)
from order_updates.notifications import links
from order_updates.notifications.channels.base import (
    BaseChannel,
    OutgoingMessage,
    SendResult,
)

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.core.adapter import DefaultOrderAdapter
    from order_updates.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)

#: Django 6.1 replaced ``EMAIL_BACKEND`` and ``get_connection()`` by ``MAILERS``.
HAS_MAILERS = django.VERSION >= (6, 1) and hasattr(mail, "mailers")


class EmailChannel(BaseChannel):
    """Email to the address the adapter gives for the order.

    Options: ``from_email`` (default: ``DEFAULT_FROM_EMAIL``), ``reply_to`` (a
    list of addresses, or one), ``mailer`` (Django 6.1+: the ``MAILERS`` alias to
    send with; default: the default mailer), and ``quiet_hours``.
    """

    parts = ("subject", "text", "html")
    label = _("email")
    template_folder = "email"

    def __init__(
        self,
        name: str,
        *,
        from_email: str | None = None,
        reply_to: str | list[str] | tuple[str, ...] = (),
        mailer: str | None = None,
        quiet_hours: bool | None = None,
    ):
        super().__init__(name, quiet_hours=quiet_hours)
        if from_email is not None and not isinstance(from_email, str):
            raise InvalidOption(
                "from_email",
                "must be an address like 'Shop <orders@shop.example.com>'.",
            )
        if isinstance(reply_to, str):
            reply_to = [reply_to]
        if not isinstance(reply_to, (list, tuple)) or not all(
            isinstance(address, str) for address in reply_to
        ):
            raise InvalidOption("reply_to", "must be a list of addresses.")
        if mailer is not None and not isinstance(mailer, str):
            raise InvalidOption("mailer", "must be the name of an entry of MAILERS.")
        #: The From address; None: ``DEFAULT_FROM_EMAIL``.
        self.from_email = from_email or None
        self.reply_to = list(reply_to)
        #: The ``MAILERS`` alias (Django 6.1+); None: the default mailer.
        self.mailer = mailer or None
        # The connection send_batch() opened, per thread (channels are shared).
        self._batch = threading.local()

    def normalize_address(self, address: str) -> str:
        """Email addresses are compared lower-cased."""
        return (address or "").strip().lower()

    def recipients(
        self,
        order: Model,
        adapter: DefaultOrderAdapter,
        preference: NotificationPreference,
    ) -> list[str]:
        """The order's email address, if it has one."""
        email = (adapter.get_email(order) or "").strip()
        return [email] if email else []

    def staff_recipients(self, user: Any) -> list[str]:
        """The staff member's account email, if it has one."""
        email = (getattr(user, "email", "") or "").strip()
        return [email] if email else []

    def build_message(
        self,
        notification: Notification,
        order: Model,
        rendered: dict[str, str] | None = None,
    ) -> OutgoingMessage:
        """Render (templating inlines the HTML's CSS) and add unsubscribe headers.

        The ``List-Unsubscribe`` link is made in the message's language, so its
        ``i18n_patterns`` prefix is the one of the links in the body.
        """

        message = super().build_message(notification, order, rendered)
        with translation.override(message.language or settings.LANGUAGE_CODE):
            unsubscribe = links.unsubscribe_url(notification)
        message.headers.update(
            {
                "List-Unsubscribe": "<%s>" % unsubscribe,
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        )
        return message

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send through the configured mailer; classify the backend's errors.

        Within :meth:`send_batch`, over the batch's open connection.
        """
        connection = getattr(self._batch, "connection", None) or self.get_connection()
        is_anymail = isinstance(connection, AnymailBaseBackend)
        email = self.make_email(message, is_anymail=is_anymail)
        try:
            sent = self._send(connection, email, is_anymail=is_anymail)
        except Exception as exc:
            error = classify_error(exc)
            if error is None or error is exc:
                raise
            raise error from exc
        if not sent:
            raise PermanentChannelError(
                "The email backend accepted no message for %s." % message.recipient
            )
        return SendResult(
            provider=provider_name(connection),
            message_id=_message_id(email),
        )

    def send_batch(
        self, messages: list[OutgoingMessage]
    ) -> list[SendResult | Exception]:
        """Send every message over one connection to the mailer (one SMTP session
        for a whole batch); each message's result or error.
        """
        connection = self.get_connection()
        try:
            opened = connection.open()
        except Exception as exc:
            error = classify_error(exc)
            if error is None:
                raise
            if error is not exc:
                error.__cause__ = exc
            return [error for _message in messages]
        self._batch.connection = connection
        try:
            return super().send_batch(messages)
        finally:
            self._batch.connection = None
            if opened:
                try:
                    connection.close()
                except Exception:  # the messages went out; a failed QUIT is not ours
                    logger.debug("Closing the email connection failed.", exc_info=True)

    def check(self) -> list[str]:
        """Configuration problems this channel can see without sending."""
        problems = []
        if not app_settings.SITE_URL:
            problems.append(
                "The email channel needs ORDER_UPDATES['SITE_URL'] for its "
                "List-Unsubscribe link and the links in messages."
            )
        from_email = self.option_name("from_email")
        if not (self.from_email or settings.DEFAULT_FROM_EMAIL):
            problems.append(
                "Set %s or DEFAULT_FROM_EMAIL: emails need a from address." % from_email
            )
        elif not self.from_email and (
            settings.DEFAULT_FROM_EMAIL == "webmaster@localhost"
        ):
            problems.append(
                "Emails would come from Django's placeholder webmaster@localhost: set "
                "%s or DEFAULT_FROM_EMAIL." % from_email
            )
        alias = self.mailer
        if alias and not HAS_MAILERS:
            problems.append(
                "%s needs Django 6.1 or later (MAILERS); remove it to use "
                "EMAIL_BACKEND." % self.option_name("mailer")
            )
        elif alias and alias not in mail.mailers:
            # Iterating MailersHandler yields aliases; the stub says setting dicts.
            aliases = ", ".join(mail.mailers)  # type: ignore[arg-type]
            problems.append(
                "%s is %r, which is not in MAILERS (it has: %s)."
                % (self.option_name("mailer"), alias, aliases or "none")
            )
        return problems

    # Hooks --------------------------------------------------------------------------

    def get_connection(self) -> Any:
        """The email backend instance to send with (option ``mailer``, Django 6.1+)."""
        alias = self.mailer
        if HAS_MAILERS:
            return mail.mailers[alias] if alias else mail.mailers.default
        if alias:
            raise OrderUpdatesConfigurationError(
                "%s is %r, but mailers need Django 6.1 or later; remove the option "
                "to send with EMAIL_BACKEND." % (self.option_name("mailer"), alias)
            )
        return mail.get_connection()

    def make_email(
        self, message: OutgoingMessage, *, is_anymail: bool = False
    ) -> EmailMultiAlternatives:
        """The Django email for ``message`` (override to add attachments…)."""
        from_email = self.from_email or settings.DEFAULT_FROM_EMAIL
        headers = dict(message.headers)
        if not is_anymail:
            # The same id every time this notification is sent: a repeat after a
            # worker died between the server's "accepted" and our record of it
            # is dropped by receiving systems that de-duplicate by Message-ID.
            # (ESPs behind anymail assign ids of their own, which feedback
            # matches on, and some refuse a Message-ID header.)
            domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
            headers.setdefault("Message-ID", message_id_for(message, domain))
        email = NotificationEmail(
            subject=message.subject,
            body=message.text,
            from_email=from_email,
            to=[message.recipient],
            reply_to=list(self.reply_to),
            headers=headers,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        # Anymail reads these attributes from any EmailMessage; others ignore them
        # (and Django's stubs do not declare them).
        email.metadata = dict(message.metadata)  # type: ignore[attr-defined]
        email.tags = list(message.tags)  # type: ignore[attr-defined]
        return email

    def _send(
        self, connection: Any, email: EmailMultiAlternatives, *, is_anymail: bool
    ) -> int:
        try:
            return connection.send_messages([email])
        except AnymailUnsupportedFeature as exc:
            # Postmark, SparkPost, Mailjet… take one tag: keep the most specific.
            # (``tags`` is the anymail attribute set in make_email().)
            if not (is_anymail and "tag" in str(exc) and len(email.tags) > 1):  # type: ignore[attr-defined]
                raise
            email.tags = email.tags[-1:]  # type: ignore[attr-defined]
            return connection.send_messages([email])


class NotificationEmail(EmailMultiAlternatives):
    """A notification's email: Django's, with the MIME boundary chosen here.

    Without one, the standard library's generator makes a regular expression
    for each message to choose it (about a seventh of the time a notification
    email takes to turn into bytes). A random one, checked against the parts,
    is as safe.
    """

    def message(self, *args: Any, **kwargs: Any) -> Any:
        """The MIME message, its boundary set when it has parts."""
        mime = super().message(*args, **kwargs)
        if mime.is_multipart() and mime.get_boundary() is None:
            boundary = new_boundary()
            if not any(
                boundary in str(part.get_payload())
                for part in mime.walk()
                if not part.is_multipart()
            ):
                mime.set_boundary(boundary)
        return mime


def new_boundary() -> str:
    """A MIME boundary no text has by chance (128 random bits)."""
    return "==order_updates_%s==" % uuid.uuid4().hex


def message_id_for(message: OutgoingMessage, domain: str) -> str:
    """The Message-ID of a notification's email: fixed per notification, and not
    guessable from the notification's number alone.
    """
    digest = salted_hmac(
        "order_updates.message_id", str(message.notification_id)
    ).hexdigest()[:16]
    return "<order-updates.%s.%s@%s>" % (message.notification_id, digest, domain)


def provider_name(connection: Any) -> str:
    """``"anymail:<esp>"`` for django-anymail backends, else the backend's path."""
    if isinstance(connection, AnymailBaseBackend):
        return "anymail:%s" % connection.esp_name.lower().replace(" ", "_")
    cls = type(connection)
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def _message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        message_id = status.message_id
        if isinstance(message_id, set):  # one id per recipient; we have one
            message_id = sorted(message_id)[0]
        return str(message_id)
    return email.extra_headers.get("Message-ID", "")


# Error classification ---------------------------------------------------------------

#: SMTP reply codes 4xx say "try again later" (RFC 5321 §4.2.1).
_TRANSIENT_SMTP = range(400, 500)


def classify_error(exc: BaseException) -> ChannelError | None:
    """The :class:`ChannelError` for a backend's exception (None: not ours)."""
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, (AnymailRecipientsRefused, AnymailInvalidAddress)):
        return PermanentChannelError(str(exc))
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        response = getattr(exc, "response", None)
        if status is None or status in (408, 429) or status >= 500:
            # No status: the request never got an answer (connection, timeout).
            return TransientChannelError(str(exc), provider_response=response)
        return PermanentChannelError(str(exc), provider_response=response)
    if isinstance(exc, AnymailUnsupportedFeature):
        return PermanentChannelError(
            "%s (the ESP cannot send this message; ANYMAIL "
            "IGNORE_UNSUPPORTED_FEATURES makes anymail drop what it can't send)" % exc
        )
    if isinstance(exc, (AnymailSerializationError, AnymailError)):
        return PermanentChannelError(str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code in _TRANSIENT_SMTP for code in codes):
            return TransientChannelError("Recipient deferred: %s" % exc.recipients)
        return PermanentChannelError("Recipient refused: %s" % exc.recipients)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentChannelError(
            "The SMTP server rejected the credentials (EMAIL_HOST_USER / "
            "EMAIL_HOST_PASSWORD): %s" % _smtp_text(exc)
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return TransientChannelError("SMTP connection failed: %s" % _smtp_text(exc))
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPSenderRefused, SMTPDataError, SMTPHeloError…: the code decides.
        if exc.smtp_code in _TRANSIENT_SMTP:
            return TransientChannelError("SMTP: %s" % _smtp_text(exc))
        return PermanentChannelError("SMTP: %s" % _smtp_text(exc))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentChannelError("SMTP: %s" % exc)
    if isinstance(exc, OSError):
        # SMTPServerDisconnected, refused connections, timeouts, DNS failures.
        return TransientChannelError("%s: %s" % (type(exc).__name__, exc))
    return None


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "%s %s" % (exc.smtp_code, text)
