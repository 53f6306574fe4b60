"""Exit non-zero when notifications are not flowing: for monitoring and probes."""

import json

from django.core.management.base import BaseCommand

from order_updates.notifications.maintenance import health


class Command(BaseCommand):
    help = (
        "Check that no due notification waits too long and that the sweeper ran "
        "recently; exit 1 (and say why) when not."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print JSON."
        )

    def handle(self, *args, as_json: bool = False, **options):
        result = health()
        if as_json:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        elif result.ok:
            self.stdout.write(
                "OK: the oldest due notification waited %.0f s; the sweeper ran "
                "%.0f s ago." % (result.oldest_due_seconds, result.sweeper_seconds or 0)
            )
        else:
            for problem in result.problems:
                self.stderr.write(problem)
        if not result.ok:
            raise SystemExit(1)
