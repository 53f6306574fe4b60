"""An email backend for the demo: every message to a file *and* to the console.

Django's file-based backend writes each message, complete (headers, text, HTML),
to a file in ``EMAIL_FILE_PATH`` (``var/mail/``); this subclass also prints a
short version on standard output, so the worker's console shows who was sent
what and in which file to look for the rest.
"""

import sys

from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    """Django's file-based backend that also prints each message, short."""

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        if sent:
            for message in email_messages:
                self.print_message(message)
        return sent

    def print_message(self, message, stream=None):
        stream = stream or sys.stdout
        headers = message.extra_headers or {}
        lines = [
            "Email to %s" % ", ".join(message.recipients()),
            "From: %s" % message.from_email,
            "Subject: %s" % message.subject,
        ]
        if "List-Unsubscribe" in headers:
            lines.append("List-Unsubscribe: %s" % headers["List-Unsubscribe"])
        lines += ["", message.body.strip(), ""]
        lines.append("(Full message, with the HTML part: %s)" % self._fname)
        lines.append("-" * 79)
        stream.write("\n".join(lines) + "\n")
        stream.flush()
