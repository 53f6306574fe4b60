"""Start tracking orders that existed before order_updates was installed."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from order_updates.conf import get_order_model
from order_updates.exceptions import UnknownStatus
from order_updates.pipeline import get_pipeline
from order_updates.services import track_existing_orders


class Command(BaseCommand):
    help = (
        "Give every order without a status its initial status and a first timeline "
        "event, in batches. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            help="Start all of them in this status instead of the adapter's choice "
            "(e.g. 'delivered' for a back catalogue).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Orders per transaction."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the orders."
        )

    def handle(self, *args, status=None, batch_size=None, dry_run=False, **options):
        if status is not None:
            try:
                get_pipeline().get(status)
            except UnknownStatus as exc:
                raise CommandError(str(exc)) from exc
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        untracked = get_order_model()._default_manager.filter(
            order_updates_state__isnull=True
        )
        total = untracked.count()
        if dry_run or not total:
            self.stdout.write("%d order(s) to start tracking." % total)
            return
        show_bar = options.get("verbosity", 1) >= 1
        count = track_existing_orders(
            untracked,
            status=status,
            batch_size=batch_size,
            progress=self._draw_progress if show_bar else None,
        )
        if show_bar and sys.stderr.isatty():
            self.stderr.write("")
        self.stdout.write(self.style.SUCCESS("Started tracking %d order(s)." % count))

    def _draw_progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        line = "[%s%s] %d/%d" % ("#" * filled, "." * (width - filled), done, total)
        # Redrawn in place on a terminal; one line per batch in logs.
        if sys.stderr.isatty():
            self.stderr.write("\r" + line, ending="")
        else:
            self.stderr.write(line)
