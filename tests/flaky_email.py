"""Email backends for worker tests: one that fails N times, one that hangs, one
that records each accepted message as a file."""

import os
import smtplib
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend


class FlakyEmailBackend(FileBackend):
    """Fails with a dropped SMTP connection FLAKY_FAILURES times, then writes files.

    The count lives in a file, so it survives the worker's retries.
    """

    def send_messages(self, email_messages):
        counter = Path(os.environ["FLAKY_COUNTER"])
        failures = int(counter.read_text()) if counter.exists() else 0
        if failures < int(os.environ.get("FLAKY_FAILURES", "1000")):
            counter.write_text(str(failures + 1))
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(email_messages)


class HangingEmailBackend(FileBackend):
    """Writes a marker and then hangs, so a test can kill the worker mid-send."""

    def send_messages(self, email_messages):
        Path(os.environ["HANG_MARKER"]).write_text("sending")
        time.sleep(600)
        return super().send_messages(email_messages)


#: Errors the next sends of :class:`RaisingEmailBackend` raise, oldest first.
raise_next: list[Exception] = []


class RaisingEmailBackend(BaseEmailBackend):
    """In-process: raises the queued errors, then records mail like locmem."""

    def send_messages(self, email_messages):
        if raise_next:
            raise raise_next.pop(0)
        from django.core.mail.backends.locmem import EmailBackend

        return EmailBackend().send_messages(email_messages)


class RecordingEmailBackend(BaseEmailBackend):
    """A provider stand-in for worker tests: each message it accepts is a file.

    A message is accepted when its file appears in ``EMAIL_FILE_PATH``: written
    aside, then renamed, so a worker killed mid-send leaves either a whole message
    or none, like a provider's "250 OK". Each acceptance gets an id of its own
    (the file's name), reported as an ESP reports its message id. Environment:
    ``SEND_DELAY`` seconds before each acceptance (the provider's latency), and
    ``SEND_MARKER``, a file created as each send starts.
    """

    def send_messages(self, email_messages):
        from django.conf import settings

        folder = Path(settings.EMAIL_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        delay = float(os.environ.get("SEND_DELAY", "0"))
        marker = os.environ.get("SEND_MARKER")
        for message in email_messages:
            if marker:
                Path(marker).touch()
            time.sleep(delay)
            accepted_id = uuid.uuid4().hex
            aside = folder / (".%s.tmp" % accepted_id)
            aside.write_bytes(message.message().as_bytes())
            os.rename(aside, folder / ("%s.eml" % accepted_id))
            # What django-anymail sets: the channel records this as the row's
            # provider_message_id.
            message.anymail_status = SimpleNamespace(message_id=accepted_id)
        return len(email_messages)
