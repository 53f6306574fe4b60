"""Re-queue lost notifications: for cron, where Celery beat is not used."""

from django.core.management.base import BaseCommand

from order_updates.notifications.delivery import sweep
from order_updates.webhooks import delivery as webhook_delivery


class Command(BaseCommand):
    help = (
        "Recover notifications whose worker died and queue due ones whose task was "
        "lost. Run it every minute if you don't run Celery beat."
    )

    def handle(self, *args, **options):
        result = sweep()
        webhook_delivery.sweep()
        self.stdout.write(
            "Recovered %(recovered)d, failed %(failed)d, queued %(queued)d." % result
        )
