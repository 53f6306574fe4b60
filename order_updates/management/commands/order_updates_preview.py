"""Show a real order's message, as its customer would get it, before anyone does."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from order_updates.core.adapter import get_adapter
from order_updates.exceptions import TemplateError
from order_updates.notifications.channels import get_channel
from order_updates.notifications.templating import preview
from order_updates.notifications.templating.sources import (
    PART_FIELDS,
    channel_parts,
    message_language,
    normalize_language,
    shop_language,
)
from order_updates.notifications.types import get_notification_types


class Command(BaseCommand):
    help = (
        "Render notification TYPE about the order numbered ORDER_NUMBER with its "
        "real data, in the language its customer would get, and print each part. "
        "Nothing is sent or saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("number", metavar="ORDER_NUMBER")
        parser.add_argument("type", metavar="TYPE", help="e.g. order_received")
        parser.add_argument(
            "--channel", default="email", help="A configured channel (email)."
        )
        parser.add_argument(
            "--language",
            default=None,
            help="Render in this language instead of the customer's.",
        )
        parser.add_argument(
            "--part",
            choices=list(PART_FIELDS),
            default=None,
            help="Print only this part (subject, text or html).",
        )

    def handle(self, *args, number, type, channel, language, part, **options):
        types = get_notification_types()
        if type not in types:
            raise CommandError(
                "Unknown notification type %r. Known types: %s."
                % (type, ", ".join(sorted(types)))
            )
        adapter = get_adapter()
        order = adapter.get_order_by_number(number) or adapter.find_order(number)
        if order is None:
            raise CommandError("There is no order numbered %r." % number)
        try:
            channel_object = get_channel(channel)
        except (ImproperlyConfigured, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        requested = language or adapter.get_language(order)
        used = message_language(type, channel_object, requested)
        try:
            rendered = preview(type, channel_object, used, order=order)
        except TemplateError as exc:
            raise CommandError(str(exc)) from exc
        if part is not None:
            self.stdout.write(rendered.get(part, ""))
            return
        offered = shop_language(requested)
        if offered != normalize_language(requested):
            note = " (%r is not in LANGUAGES)" % requested
        elif used != offered:
            note = " (no templates in %r)" % requested
        else:
            note = ""
        self.stdout.write(
            "%s %s about order %s, in %r%s"
            % (type, channel, adapter.get_number(order), used, note)
        )
        for name in channel_parts(channel_object):
            self.stdout.write("\n--- %s ---\n%s" % (name, rendered.get(name, "")))
