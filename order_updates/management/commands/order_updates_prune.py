"""Prune the notification log: empty old message bodies, delete old rows."""

from django.core.management.base import BaseCommand, CommandError

from order_updates.notifications.maintenance import prune
from order_updates.webhooks import delivery as webhook_delivery


class Command(BaseCommand):
    help = (
        "Empty the message bodies of finished notifications older than "
        "PRUNE_BODIES_AFTER_DAYS and delete those older than PRUNE_ROWS_AFTER_DAYS. "
        "Pending and sending notifications are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bodies-days", type=int, help="Override PRUNE_BODIES_AFTER_DAYS."
        )
        parser.add_argument(
            "--rows-days", type=int, help="Override PRUNE_ROWS_AFTER_DAYS."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count, change nothing."
        )

    def handle(self, *args, bodies_days, rows_days, dry_run, **options):
        try:
            result = prune(
                bodies_days=bodies_days, rows_days=rows_days, dry_run=dry_run
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Would clear" if dry_run else "Cleared"
        self.stdout.write(
            "%s the bodies of %d notification(s); %s %d old notification(s)."
            % (
                verb,
                result.bodies_cleared,
                "would delete" if dry_run else "deleted",
                result.rows_deleted,
            )
        )
        deleted = webhook_delivery.prune(rows_days=rows_days, dry_run=dry_run)
        self.stdout.write(
            "%s %d old webhook delivery(ies)."
            % ("Would delete" if dry_run else "Deleted", deleted)
        )
