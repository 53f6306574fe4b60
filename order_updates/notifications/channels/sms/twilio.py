"""SMS through Twilio's REST API, called over HTTP (no Twilio SDK needed).

Options: ``account_sid``, ``auth_token``, and either ``messaging_service_sid``
(preferred: Twilio picks the sender) or ``sender`` (a Twilio number in E.164
form, or an alphanumeric sender id).

Twilio's Messages API takes no idempotency key: if Twilio accepted a text but
its answer was lost (a read timeout), the retry sends it a second time.
"""

from __future__ import annotations

from typing import Any

import requests

from order_updates.exceptions import (
    InvalidOption,
    PermanentChannelError,
    TransientChannelError,
)
from order_updates.notifications.channels.base import SendResult
from order_updates.notifications.channels.sms.base import BaseSMSProvider

#: Twilio error codes about the recipient: retrying will not help.
RECIPIENT_ERRORS = {
    21211: "The 'To' number is not a valid phone number.",
    21614: "The 'To' number is not a mobile number that can receive SMS.",
    21610: "The recipient has unsubscribed from this sender (replied STOP).",
}


class TwilioSMSProvider(BaseSMSProvider):
    """Sends with ``POST /2010-04-01/Accounts/{sid}/Messages.json``."""

    name = "twilio"
    api_url = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages.json"
    #: (connect, read) seconds.
    timeout = (5, 30)

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str = "",
        sender: str = "",
    ) -> None:
        super().__init__(sender=sender)
        for option, value in (
            ("account_sid", account_sid),
            ("auth_token", auth_token),
        ):
            if not value or not isinstance(value, str):
                raise InvalidOption(
                    option, "is empty: copy it from the Twilio console."
                )
        if not (messaging_service_sid or sender):
            raise InvalidOption(
                "messaging_service_sid",
                "or 'sender' is needed: Twilio needs a Messaging Service or a "
                "sender number.",
            )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messaging_service_sid = messaging_service_sid
        self.session = requests.Session()

    def get_params(self, to: str, body: str) -> dict[str, Any]:
        """The form fields posted to Twilio (override to add ``StatusCallback``…)."""
        params = {"To": to, "Body": body}
        if self.messaging_service_sid:
            params["MessagingServiceSid"] = self.messaging_service_sid
        else:
            params["From"] = self.sender
        return params

    def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SendResult:
        """Create the message; classify Twilio's errors."""
        url = self.api_url.format(account_sid=self.account_sid)
        try:
            response = self.session.post(
                url,
                data=self.get_params(to, body),
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise TransientChannelError("Twilio did not answer in time: %s" % exc)
        except requests.RequestException as exc:
            raise TransientChannelError("Could not reach Twilio: %s" % exc)
        data = _json(response)
        if 200 <= response.status_code < 300:
            # Accepted (201 Created). Even without a readable sid the text is on
            # its way: retrying would send it twice.
            return SendResult(provider=self.name, message_id=str(data.get("sid", "")))
        raise self.error_for(response, data)

    def error_for(
        self, response: requests.Response, data: dict[str, Any]
    ) -> PermanentChannelError | TransientChannelError:
        """The channel error for a failed answer from Twilio."""
        status = response.status_code
        code = data.get("code")
        detail = "Twilio error %s (HTTP %s): %s" % (
            code or "-",
            status,
            data.get("message") or response.text[:500],
        )
        if status == 401:
            return PermanentChannelError(
                "Twilio rejected the credentials: check the provider's options "
                "'account_sid' and 'auth_token'. %s" % detail,
                provider_response=data,
            )
        if status in (408, 429) or status >= 500:
            return TransientChannelError(detail, provider_response=data)
        if code in RECIPIENT_ERRORS:
            return PermanentChannelError(
                "%s %s" % (RECIPIENT_ERRORS[code], detail), provider_response=data
            )
        return PermanentChannelError(detail, provider_response=data)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
