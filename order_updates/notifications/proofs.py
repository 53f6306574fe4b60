"""Test sends from the template editor: a proof, to the staff member only.

A proof is rendered like the editor's preview (sample data or a chosen order,
unsaved text included) and handed to the channel's real ``send()``, so it goes
out through the configured email backend, SMS provider or push service. It goes
only to the staff member's own addresses (the channel's ``staff_recipients``),
never to an address typed into the form, and writes no notification row.

A proof is marked as one: "[Test]" before its subject (email, push title) or,
on channels without a subject (SMS), before its text. Its preference and
unsubscribe links are the preview's sample links, even for a real order, so that
a click in a proof never changes the customer's preferences, and an email proof
carries no ``List-Unsubscribe`` header.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from order_updates.exceptions import NoTestAddress
from order_updates.notifications.channels.base import OutgoingMessage, SendResult
from order_updates.notifications.templating.editing import preview

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.notifications.channels.base import BaseChannel

logger = logging.getLogger(__name__)


def proof_id() -> int:
    """A message id for a proof: negative, so it is never a notification's, and
    new each time, so providers that de-duplicate by it deliver every proof.
    """
    return -secrets.randbelow(2**52) - 1


def mark_as_test(text: str) -> str:
    """``text`` with the test marker before it, in the active language."""
    return _("[Test] %(text)s") % {"text": text}


def send_proof(
    type: str,
    channel: BaseChannel,
    language: str,
    user: Any,
    *,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    order: Model | None = None,
    sample_status: str | None = None,
) -> list[tuple[str, SendResult]]:
    """Render a template as :func:`preview` does and send it to ``user``, marked
    as a test (:func:`mark_as_test`).

    Returns each address with the provider's answer. Raises
    :class:`~order_updates.exceptions.NoTestAddress` if the staff member has no
    address on the channel, :class:`~order_updates.exceptions.TemplateError` if
    rendering fails and a :class:`~order_updates.exceptions.ChannelError` if
    sending does.
    """
    recipients = channel.staff_recipients(user)
    if not recipients:
        problem = _(
            "Your account has no address for %(channel)s to send a test to."
        ) % {"channel": channel.label}
        hint = channel.staff_recipients_hint(user)
        raise NoTestAddress("%s %s" % (problem, hint) if hint else problem)
    rendered = preview(
        type,
        channel,
        language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        order=order,
        sample_status=sample_status,
    )
    sent_subject = rendered.get("subject", "")
    sent_text = rendered.get("text", "")
    if "subject" in channel.parts:
        sent_subject = mark_as_test(sent_subject)
    else:
        sent_text = mark_as_test(sent_text)
    results = []
    for recipient in recipients:
        message = OutgoingMessage(
            notification_id=proof_id(),
            channel=channel.name,
            type=type,
            recipient=recipient,
            language=language,
            subject=sent_subject,
            text=channel.complete_text(sent_text, rendered.get("url", "")),
            html=rendered.get("html", ""),
            url=rendered.get("url", ""),
            metadata={"order_updates_type": type, "order_updates_test": "1"},
            tags=["order_updates", "test"],
        )
        result = channel.send(message)
        logger.info(
            "Test %s %s notification sent to %s by %s.",
            type,
            channel.name,
            recipient,
            getattr(user, "pk", None),
        )
        results.append((recipient, result))
    return results
