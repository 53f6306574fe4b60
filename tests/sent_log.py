"""What worker processes counted as sent, for tests that count across processes.

A worker started with ``TEST_SENT_LOG`` set appends one line per
``notification_sent`` signal to that file: the notification's id and the
worker's ``TEST_WORKER_TAG``. Lines are short and the file is opened for
appending, so processes writing at once do not mix their lines.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path


def record_to(path: str, tag: str) -> None:
    """Connect a receiver that logs each ``notification_sent`` to ``path``."""
    from order_updates import signals

    def receiver(sender, notification, **kwargs):
        line = ("%d %s\n" % (notification.pk, tag)).encode()
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)

    signals.notification_sent.connect(receiver, weak=False)


def read(path: str | Path) -> list[tuple[int, str]]:
    """The ``(notification id, worker tag)`` pairs logged so far."""
    path = Path(path)
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text().splitlines():
        pk, _space, tag = line.partition(" ")
        pairs.append((int(pk), tag))
    return pairs


def counts(path: str | Path) -> Counter:
    """How many times each notification was counted as sent."""
    return Counter(pk for pk, _tag in read(path))
