"""Email backends for worker tests: one that fails N times, one that hangs."""

import os
import smtplib
import time
from pathlib import Path

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
