"""Fill the demo shop with users, products and orders in every status.

Orders are created through the same ``place_order()`` as checkout, then moved
along the pipeline with order_updates' public services only, so every order has
a valid timeline: each step is checked against ``get_pipeline()`` first.
"""

import datetime
import random
from collections import Counter
from decimal import Decimal
from itertools import pairwise

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from order_updates import services
from order_updates.models import OrderState
from order_updates.notifications.preferences import give_sms_consent, preference_for
from order_updates.pipeline import get_pipeline

from shop.models import Order, OrderLine, Product, Profile
from shop.orders import place_order

#: Demo logins; the password is the username. Customers shop with their profile.
DEMO_USERS = {
    "admin": {
        "email": "admin@example.com",
        "name": ("Ada", "Admin"),
        "staff": True,
        "phone": "+49 151 23456789",
    },
    "alice": {
        "email": "alice@example.com",
        "name": ("Alice", "Schmidt"),
        "phone": "+49 30 12345678",
        "texts": True,
        "language": "de",
        "address": ("Torstraße 12", "Berlin", "10119", "DE"),
    },
    "bob": {
        "email": "bob@example.com",
        "name": ("Bob", "Miller"),
        "language": "en",
        "address": ("221 Baker Street", "London", "NW1 6XE", "GB"),
    },
}

#: name, email, language, (street, city, postcode, country) of guest shoppers
GUESTS = [
    (
        "Chloé Martin",
        "chloe.martin@example.org",
        "fr",
        ("8 rue Oberkampf", "Paris", "75011", "FR"),
    ),
    (
        "Jonas Weber",
        "jonas.weber@example.net",
        "de",
        ("Hauptstraße 5", "München", "80331", "DE"),
    ),
    (
        "Emma Clarke",
        "emma.clarke@example.com",
        "en",
        ("14 Mill Lane", "Leeds", "LS1 4AP", "GB"),
    ),
    (
        "Lucas Bernard",
        "lucas.bernard@example.org",
        "fr",
        ("3 quai Saint-Vincent", "Lyon", "69001", "FR"),
    ),
    (
        "Mia Hoffmann",
        "mia.hoffmann@example.net",
        "de",
        ("Elbchaussee 40", "Hamburg", "22763", "DE"),
    ),
    (
        "Oliver Brown",
        "oliver.brown@example.com",
        "en",
        ("9 Harbour Road", "Dublin", "D04 X2Y7", "IE"),
    ),
]

#: name, price, description
PRODUCTS = [
    ("Ceramic Pour-Over Set", "34.90", "Hand-glazed dripper with two cups."),
    ("Cast Iron Skillet", "49.00", "26 cm, pre-seasoned, lasts a lifetime."),
    ("Linen Apron", "29.50", "Stonewashed linen with a deep front pocket."),
    ("Chef's Knife", "89.00", "20 cm blade of Japanese stainless steel."),
    ("Olive Wood Board", "39.90", "Each board's grain is one of a kind."),
    ("Espresso Beans 1 kg", "24.00", "Medium roast, notes of cocoa and hazelnut."),
    ("Enamel Kettle", "44.00", "Whistling kettle for every kind of stove."),
    ("Spice Grinder", "19.90", "Ceramic burr, adjustable from fine to coarse."),
    ("Tea Sampler", "16.50", "Twelve loose-leaf teas from small gardens."),
    ("Glass Storage Jars", "27.00", "Set of four with bamboo lids."),
]

#: How many orders end in each status: 36 in all.
STATUS_PLAN = {
    "placed": 4,
    "confirmed": 4,
    "processing": 4,
    "partially_shipped": 1,
    "shipped": 4,
    "out_for_delivery": 3,
    "delivered": 7,
    "on_hold": 2,
    "cancelled": 3,
    "returned": 2,
    "refunded": 2,
}

_TO_DELIVERED = ["confirmed", "processing", "shipped", "out_for_delivery", "delivered"]

#: The statuses each order walks through after "placed" to reach its final one.
PATHS = {
    "placed": [],
    "confirmed": ["confirmed"],
    "processing": ["confirmed", "processing"],
    "partially_shipped": ["confirmed", "processing", "partially_shipped"],
    "shipped": ["confirmed", "processing", "shipped"],
    "out_for_delivery": ["confirmed", "processing", "shipped", "out_for_delivery"],
    "delivered": _TO_DELIVERED,
    "on_hold": ["confirmed", "on_hold"],
    "cancelled": ["confirmed", "cancelled"],
    "returned": [*_TO_DELIVERED, "returned"],
    "refunded": [*_TO_DELIVERED, "returned", "refunded"],
}

#: How many days ago orders that end in each status were placed (min, max).
AGE_DAYS = {
    "placed": (0, 1),
    "confirmed": (0, 2),
    "processing": (1, 4),
    "on_hold": (2, 6),
    "partially_shipped": (2, 6),
    "shipped": (2, 6),
    "out_for_delivery": (3, 7),
    "cancelled": (1, 20),
    "delivered": (6, 29),
    "returned": (14, 29),
    "refunded": (18, 29),
}

CARRIERS = {
    "dhl": "https://www.dhl.de/en/privatkunden/pakete-empfangen/verfolgen.html?piececode=%s",
    "ups": "https://www.ups.com/track?tracknum=%s",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/%s",
}

ORDER_COUNT = sum(STATUS_PLAN.values())


class Command(BaseCommand):
    help = (
        "Create demo users, products and orders in every status. Does nothing if "
        "products exist already, unless --reset is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete all orders and products first.",
        )
        parser.add_argument(
            "--notify",
            action="store_true",
            help="Queue customer notifications for the demo changes (off by default: "
            "they are history, not news).",
        )
        parser.add_argument("--seed", type=int, default=2024, help="Random seed.")

    def handle(self, *args, reset=False, notify=False, seed=2024, **options):
        self.check_paths()
        if not reset and Product.objects.exists():
            self.stdout.write(
                "Demo data already present (%d products, %d orders): nothing to do. "
                "Use --reset to start over."
                % (Product.objects.count(), Order.objects.count())
            )
            return
        rng = random.Random(seed)
        with transaction.atomic():
            if reset:
                self.reset()
            users = self.create_users()
            products = self.create_products()
            self.create_orders(rng, users, products, notify=notify)
        self.print_summary()

    # Steps ---------------------------------------------------------------------------

    def check_paths(self):
        """Refuse to start if the configured pipeline forbids a planned path."""
        pipeline = get_pipeline()
        for final, path in PATHS.items():
            steps = [pipeline.initial, *path]
            for current, target in pairwise(steps):
                if not pipeline.can_transition(current, target):
                    raise CommandError(
                        "The pipeline does not allow %s -> %s (needed to reach %r). "
                        "seed_demo expects the default pipeline."
                        % (current, target, final)
                    )
            if steps[-1] != final:
                raise CommandError("PATHS[%r] does not end in %r." % (final, final))

    def reset(self):
        deleted = Order.objects.count()
        # Deleting an order also deletes its order_updates rows (foreign keys).
        Order.objects.all().delete()
        OrderLine.objects.all().delete()
        Product.objects.all().delete()
        self.stdout.write("Deleted %d orders and all products." % deleted)

    def create_users(self):
        User = get_user_model()
        users = {}
        for username, profile in DEMO_USERS.items():
            user = User.objects.filter(username=username).first() or User(
                username=username
            )
            user.email = profile["email"]
            user.first_name, user.last_name = profile["name"]
            user.is_staff = user.is_superuser = profile.get("staff", False)
            user.is_active = True
            user.set_password(username)
            user.save()
            if profile.get("phone"):
                # The account's own number (USER_PHONE_FIELD): the template
                # editor sends the admin's test texts there.
                Profile.objects.update_or_create(
                    user=user, defaults={"phone": profile["phone"]}
                )
            if profile.get("texts"):
                # alice agreed to texts: her orders' updates come by SMS too.
                give_sms_consent(preference_for(user=user))
            users[username] = user
        return users

    def create_products(self):
        return [
            Product.objects.create(
                name=name,
                slug=slugify(name),
                price=Decimal(price),
                description=description,
            )
            for name, price, description in PRODUCTS
        ]

    def create_orders(self, rng, users, products, *, notify):
        finals = [status for status, count in STATUS_PLAN.items() for _ in range(count)]
        rng.shuffle(finals)
        now = timezone.now()
        plans = []
        for index, final in enumerate(finals):
            low, high = AGE_DAYS[final]
            age = datetime.timedelta(
                days=rng.randint(low, high), minutes=rng.randint(0, 24 * 60 - 1)
            )
            # Round-robin: a third each for alice, bob and guests.
            who = ("alice", "bob", None)[index % 3]
            plans.append((now - age, final, who))
        plans.sort(key=lambda plan: plan[0])  # numbers grow with the order date
        for index, (placed_at, final, who) in enumerate(plans):
            if who is None:
                name, email, language, address = GUESTS[index % len(GUESTS)]
                customer, phone = None, ""
            else:
                customer, profile = users[who], DEMO_USERS[who]
                name = customer.get_full_name()
                email, phone = customer.email, profile.get("phone", "")
                language, address = profile["language"], profile["address"]
            street, city, postcode, country = address
            basket = rng.sample(products, rng.randint(1, 3))
            lines = [(product, rng.choice((1, 1, 1, 2))) for product in basket]
            if final == "partially_shipped" and lines == [(basket[0], 1)]:
                # Something must be left to ship: a second product (no random
                # draw, so the other orders stay as they were).
                lines.append((next(p for p in products if p not in basket), 1))
            order = place_order(
                lines,
                customer=customer,
                placed_at=placed_at,
                email=email,
                phone=phone,
                language=language,
                shipping_name=name,
                shipping_line1=street,
                shipping_city=city,
                shipping_postcode=postcode,
                shipping_country=country,
                notify=notify,
            )
            self.walk(order, PATHS[final], rng, users, notify=notify)

    def walk(self, order, path, rng, users, *, notify):
        """Move ``order`` through ``path`` with the actors a real shop would have."""
        admin = users["admin"]
        carrier = rng.choice(sorted(CARRIERS))
        when = order.placed_at
        for status in path:
            # Each step a few hours to a day after the last, never in the future.
            when = min(
                when + datetime.timedelta(hours=rng.randint(2, 30)), timezone.now()
            )
            if status in ("shipped", "partially_shipped"):
                number = tracking_number(carrier, rng)
                shipment = {
                    "carrier": carrier,
                    "tracking_number": number,
                    "tracking_url": CARRIERS[carrier] % number,
                    "shipped_at": when,
                    "actor": admin,
                    "notify": notify,
                    "at": when,
                }
                if status == "partially_shipped":
                    # One unit of the first line: the order follows its shipment.
                    first = order.lines.order_by("pk").first()
                    items = [{"line": str(first.pk), "quantity": 1}]
                    services.add_shipment(order, items=items, **shipment)
                else:
                    services.add_shipment(order, status="shipped", **shipment)
            elif status == "confirmed":
                services.set_status(
                    order,
                    status,
                    actor="system",
                    note="Payment captured.",
                    notify=notify,
                    at=when,
                )
            elif status == "processing":
                services.set_status(order, status, actor=admin, notify=notify, at=when)
            elif status in ("out_for_delivery", "delivered"):
                services.set_status(
                    order,
                    status,
                    actor="carrier:%s" % carrier,
                    notify=notify,
                    at=when,
                )
            elif status == "on_hold":
                services.set_status(
                    order,
                    status,
                    actor=admin,
                    message="We need to check your delivery address and will "
                    "contact you shortly.",
                    note="Postcode does not match the city.",
                    notify=notify,
                    at=when,
                )
            elif status == "cancelled":
                services.set_status(
                    order,
                    status,
                    actor=order.customer or admin,
                    message="Your order was cancelled as you asked.",
                    notify=notify,
                    at=when,
                )
            elif status == "returned":
                services.set_status(
                    order,
                    status,
                    actor=admin,
                    note="Parcel came back unopened.",
                    notify=notify,
                    at=when,
                )
            elif status == "refunded":
                services.set_status(
                    order,
                    status,
                    actor="system",
                    message="We have refunded %s %s." % (order.total, order.currency),
                    notify=notify,
                    at=when,
                )
            else:
                services.set_status(order, status, actor=admin, notify=notify, at=when)
        if path[-1:] == ["processing"]:
            services.add_note(
                order,
                "Good news: everything is in stock, your parcel leaves tomorrow.",
                actor=admin,
                notify=notify,
                at=when,
            )

    def print_summary(self):
        pipeline = get_pipeline()
        counts = Counter(OrderState.objects.values_list("status", flat=True))
        self.stdout.write(
            self.style.SUCCESS(
                "Created %d products and %d orders."
                % (Product.objects.count(), Order.objects.count())
            )
        )
        for status in pipeline:
            self.stdout.write(
                "  %-18s %3d" % (status.label, counts.get(status.code, 0))
            )
        self.stdout.write(
            "\nLog in at /accounts/login/ as alice/alice or bob/bob (customers), "
            "or at /admin/ as admin/admin (staff)."
        )


def tracking_number(carrier, rng):
    """A plausible-looking tracking number for ``carrier``."""
    if carrier == "ups":
        alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
        return "1Z" + "".join(rng.choice(alphabet) for _ in range(16))
    digits = 12 if carrier == "dhl" else 14
    return "".join(rng.choice("0123456789") for _ in range(digits))
