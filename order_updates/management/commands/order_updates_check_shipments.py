"""Raise late, stuck and overdue alerts: for cron, where Celery beat is not used."""

from django.core.management.base import BaseCommand

from order_updates.carriers.monitoring import check_all


class Command(BaseCommand):
    help = (
        "Report shipments past their estimated delivery (the customer is told), "
        "shipments without a carrier scan for too long and orders too long in a "
        "status (staff alerts). Each alert is raised once; run it hourly."
    )

    def handle(self, *args, **options):
        result = check_all()
        self.stdout.write(
            "Late %(late)d, stuck %(stuck)d, overdue %(overdue)d." % result.as_dict()
        )
