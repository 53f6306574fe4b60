"""The adapter: the one place that knows the shop's order model.

order_updates never reads the shop's order fields directly. It asks the adapter
named by ``ORDER_UPDATES["ADAPTER"]``. :class:`DefaultOrderAdapter` works by
conventional field names that ``ORDER_UPDATES["ORDER_FIELDS"]`` can remap, with
``__`` to follow relations (``"customer__email"``). A shop with other needs
subclasses it and overrides the methods that differ.
"""

from __future__ import annotations

import datetime
import decimal
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel.numbers import get_currency_precision
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import (
    FieldDoesNotExist,
    ObjectDoesNotExist,
    ValidationError,
)
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from order_updates.conf import RELOAD_HOOKS, app_settings, get_order_model
from order_updates.core.phones import normalize_phone
from order_updates.core.shop_field import pipeline_code, status_field
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.pipeline import get_pipeline

if TYPE_CHECKING:
    from order_updates.notifications.channels.base import BaseChannel
    from order_updates.notifications.types import NotificationType

#: Where the default adapter looks when ORDER_FIELDS does not say otherwise.
#: None means "the shop's order has no such thing". ``shipping_address`` may also
#: be a list of paths, one per address line.
DEFAULT_ORDER_FIELDS: dict[str, str | None] = {
    "number": "number",
    "email": "email",
    "user": "user",
    "phone": "phone",
    "language": "language",
    "customer_name": None,
    "total": "total",
    "currency": "currency",
    "items": "items",
    "shipping_address": "shipping_address",
    "created": None,
    # The customer pages' lookup form accepts the postcode instead of the email.
    "shipping_postcode": None,
    # The summary's figures: lines, then these, add up to the total.
    "subtotal": "subtotal",
    "shipping": "shipping_total",
    "discount": "discount_total",
    "tax": "tax_total",
}

#: Other conventional names, tried in turn when the first is not on the model.
ALTERNATIVE_ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    "items": ("lines",),
}

#: Where the default adapter looks on an order line. ``unit_price`` is the price
#: of one unit and ``line_total`` the price of the whole line: map either (the
#: other is derived from ``quantity``) or both. ``price`` is an older name of
#: ``unit_price``.
DEFAULT_ITEM_FIELDS: dict[str, str | None] = {
    "name": "name",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "line_total": "line_total",
    "price": None,
    "sku": "sku",
}

#: Other conventional names of an order line's fields.
ALTERNATIVE_ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("title", "product_name"),
    "unit_price": ("price",),
}

#: Order fields whose absence makes messages look wrong (check W011 names them).
SUMMARY_ORDER_FIELDS = ("items", "total", "shipping_address")

#: The order fields the customer pages show: ``get_page_queryset()`` joins the
#: relations they follow (not those of the customer's contact fields, which the
#: pages do not show).
PAGE_ORDER_FIELDS = (
    "number",
    "created",
    "total",
    "currency",
    "subtotal",
    "shipping",
    "discount",
    "tax",
)

logger = logging.getLogger("order_updates.adapter")


def _resolve(obj: Any, path: str | None, *, lenient: bool = False) -> Any:
    """Follow a ``"a__b__c"`` path of attributes (or keys of a mapping); None
    where a link is missing. ``lenient``: a missing attribute is None too (for
    conventional names on objects whose class cannot be checked up front).
    """
    if not path:
        return None
    value = obj
    for part in path.split("__"):
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(part)
            continue
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:
            return None
        except AttributeError:
            if lenient:
                return None
            raise
    if callable(value) and not isinstance(value, models.Manager):
        value = value()
    return value


def _amount(value: Any) -> decimal.Decimal | None:
    """``value`` as a Decimal (money objects by their ``amount``), or None."""
    value = getattr(value, "amount", value)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError):
        return None


#: The order amounts ``ORDER_FIELDS`` maps (``field()`` converts them from minor
#: units with ``AMOUNTS_IN_MINOR_UNITS``), and those of a line.
ORDER_AMOUNTS = frozenset({"total", "subtotal", "shipping", "discount", "tax"})
LINE_AMOUNTS = ("unit_price", "line_total", "price")


def in_units(value: Any, currency: Any) -> decimal.Decimal | None:
    """An amount in the currency's minor unit as an amount in units: 2740 EUR
    cents is 27.40, 2740 yen 2740, 2740 Kuwaiti fils 2.740 (the currency's
    digits, from the CLDR; two for an unknown or missing currency)."""
    amount = _amount(value)
    if amount is None:
        return None
    code = str(currency or "").upper()
    digits = get_currency_precision(code) if code else 2
    units = amount.scaleb(-digits)
    # 4250.00 cents is 42.50, not 42.5000; a fraction of a cent is kept.
    step = decimal.Decimal(1).scaleb(-digits)
    try:
        rounded = units.quantize(step)
    except decimal.InvalidOperation:
        return units
    return rounded if rounded == units else units


def conventional_path(
    model: type[models.Model],
    name: str,
    defaults: Mapping[str, str | None],
    alternatives: Mapping[str, tuple[str, ...]],
) -> str | None:
    """The first conventional name of ``name`` that ``model`` has, or None."""
    for path in (defaults.get(name), *alternatives.get(name, ())):
        if path and path_exists(model, path):
            return path
    return None


def related_model(model: type[models.Model], path: str | None) -> Any:
    """The model at the end of ``path`` when it ends in a relation, else None."""
    if not path:
        return None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.related_model is None:
            return None
        model = field.related_model
    return model


def _forward_relation_chain(model: type[models.Model], path: str) -> str:
    """The longest prefix of ``path`` made of forward FK/one-to-one fields."""
    chain = []
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            break
        if not (field.many_to_one or field.one_to_one) or not field.concrete:
            break
        if field.related_model is None:
            break
        chain.append(part)
        model = field.related_model
    return "__".join(chain)


def _one_row_per_order(orders: QuerySet) -> bool:
    """Whether ``orders`` gives each order once and takes more clauses: no
    DISTINCT, slice or union, and only joins along forward relations (a
    to-many join repeats the order per related row)."""
    query = orders.query
    if query.distinct or query.is_sliced or query.combinator:
        return False
    for join in query.alias_map.values():
        field = getattr(join, "join_field", None)  # None: the order table itself
        if field is not None and not (field.many_to_one or field.one_to_one):
            return False
    return True


def path_exists(model: type[models.Model], path: str) -> bool:
    """Whether ``a__b__c`` names fields (the last may be a property) from ``model``."""
    parts = path.split("__")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return last and hasattr(model, part)
        if not last:
            if field.related_model is None:
                return False
            model = field.related_model
    return True


def plain(value: Any, zone: datetime.tzinfo | None = None) -> Any:
    """``value`` as plain data a template may safely receive.

    Strings become exact ``str`` (a Django ``SafeString`` would skip the
    templates' autoescaping), decimals become strings, aware datetimes move into
    ``zone`` when one is given, mappings and sequences are converted item by item,
    and anything else becomes its text.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if zone is not None and timezone.is_aware(value):
            return value.astimezone(zone)
        return value
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, Mapping):
        return {str.__str__(str(k)): plain(item, zone) for k, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, zone) for item in value]
    return str.__str__(str(value))


class DefaultOrderAdapter:
    """Reads the shop's order by field names; override any method to change it."""

    #: Field paths a subclass for a known shop framework sets (the django-oscar
    #: adapter…): used over the conventional names, under ``ORDER_FIELDS``.
    order_fields_preset: dict[str, Any] = {}
    #: The same for order lines, under ``ITEM_FIELDS``.
    item_fields_preset: dict[str, Any] = {}

    def __init__(self) -> None:
        unknown = set(app_settings.ORDER_FIELDS) - set(DEFAULT_ORDER_FIELDS)
        if unknown:
            raise OrderUpdatesConfigurationError(
                "ORDER_UPDATES['ORDER_FIELDS'] has unknown keys: %s. Known keys: %s."
                % (", ".join(sorted(unknown)), ", ".join(DEFAULT_ORDER_FIELDS))
            )
        configured = app_settings.ORDER_FIELDS
        model = self.get_order_model()
        # A conventional name the shop's model lacks means "not available", so a
        # shop without, say, a phone field needs no setting for it (check W011
        # warns when what a message needs is missing).
        defaults = {
            name: conventional_path(
                model, name, DEFAULT_ORDER_FIELDS, ALTERNATIVE_ORDER_FIELDS
            )
            for name in DEFAULT_ORDER_FIELDS
        }
        self.order_fields = {**defaults, **self.order_fields_preset, **configured}
        items = {**self.item_fields_preset, **app_settings.ITEM_FIELDS}
        if "price" in items:  # the older name of unit_price
            items.setdefault("unit_price", items["price"])
        items.pop("price", None)
        self.item_model = self.get_item_model()
        if self.item_model is not None:
            item_defaults = {
                name: conventional_path(
                    self.item_model, name, DEFAULT_ITEM_FIELDS, ALTERNATIVE_ITEM_FIELDS
                )
                for name in DEFAULT_ITEM_FIELDS
            }
            self._lenient_item_fields: set[str] = set()
        else:
            # Lines that are not a relation (a property): conventional names are
            # looked up on each line, and a missing one is "not available".
            item_defaults = {
                name: path for name, path in DEFAULT_ITEM_FIELDS.items() if path
            }
            self._lenient_item_fields = set(item_defaults) - set(items)
        item_defaults.pop("price", None)
        self.item_fields = {**item_defaults, **items}

    # The order model --------------------------------------------------------------

    def get_order_model(self) -> type[models.Model]:
        """The shop's order model class."""
        return get_order_model()

    def get_item_model(self) -> Any:
        """The model of the order's lines, if ``items`` is a relation (else None)."""
        return related_model(self.get_order_model(), self.order_fields.get("items"))

    def get_queryset(self) -> QuerySet:
        """Orders with the relations the mapped fields follow, joined in.

        Used where order_updates loads many orders at once (bulk changes), so
        reading ``customer__email`` costs no query per order.
        """
        model = self.get_order_model()
        return model._default_manager.select_related(*self.related_paths())

    def get_message_queryset(self) -> QuerySet:
        """:meth:`get_queryset` with the order lines prefetched: what the
        delivery worker loads a batch of orders with, so building the messages'
        contexts costs no query per order.
        """
        return self.with_items(self.get_queryset())

    def get_page_queryset(self, orders: QuerySet | None = None) -> QuerySet:
        """Orders as the customer pages and tracking links load them: the state
        row and the relations of :data:`PAGE_ORDER_FIELDS` joined. ``orders``
        (all of them by default) narrows them, e.g. to
        :meth:`get_orders_for_user`: used as they are when each order comes
        once, else (a join across a to-many relation, ``distinct()``, a slice,
        a union) as a subquery of their keys.
        """
        manager = self.get_order_model()._default_manager
        if orders is None:
            orders = manager.all()
        elif not _one_row_per_order(orders):
            # Taken as they are, orders would repeat (a join across a to-many
            # relation), or the query takes no more clauses: keys in a subquery.
            orders = manager.filter(pk__in=orders.values("pk"))
        related = self.related_paths(PAGE_ORDER_FIELDS)
        return orders.select_related(*related, "order_updates_state")

    def newest_first(self, orders: QuerySet) -> QuerySet:
        """``orders`` newest first: by ``ORDER_FIELDS["created"]`` when it is a
        field path, then by primary key (UUID keys say nothing of age).
        """
        created = self.order_fields.get("created")
        ordering = ["-%s" % created] if isinstance(created, str) and created else []
        return orders.order_by(*ordering, "-pk")

    def related_paths(self, names: Iterable[str] | None = None) -> list[str]:
        """The forward relations that the ``ORDER_FIELDS`` of ``names`` (all of
        them when None) follow, for ``select_related()``.
        """
        model = self.get_order_model()
        related = set()
        for name, value in self.order_fields.items():
            if names is not None and name not in names:
                continue
            for path in value if isinstance(value, (list, tuple)) else [value]:
                chain = _forward_relation_chain(model, path or "")
                if chain:
                    related.add(chain)
        return sorted(related)

    def with_items(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` of orders with their lines prefetched (and the relations
        the ``ITEM_FIELDS`` follow), when ``items`` is a relation.
        """
        lookups = self.item_lookups()
        return queryset.prefetch_related(*lookups) if lookups else queryset

    def item_lookups(self) -> list[str]:
        """What :meth:`with_items` prefetches: the ``items`` relation, then the
        relations the ``ITEM_FIELDS`` follow from it (none when ``items`` is not
        a relation).
        """
        path = self.order_fields.get("items")
        model = self.get_order_model()
        try:
            field = model._meta.get_field(path) if path else None
        except FieldDoesNotExist:
            field = None  # a property or method: nothing to prefetch
        if field is None or not (field.one_to_many or field.many_to_many):
            return []
        item_model = field.related_model
        if item_model is None:
            return []
        lookups = [str(path)]
        for item_path in self.item_fields.values():
            chain = _forward_relation_chain(item_model, item_path or "")
            if chain:
                lookups.append("%s__%s" % (path, chain))
        return lookups

    def field(self, order: models.Model, name: str) -> Any:
        """The value at ``ORDER_FIELDS[name]`` on ``order`` (None if unmapped);
        an amount in units of the currency, also when the shop stores minor
        units (``AMOUNTS_IN_MINOR_UNITS``)."""
        value = _resolve(order, self.order_fields.get(name))
        if name in ORDER_AMOUNTS and app_settings.AMOUNTS_IN_MINOR_UNITS:
            return in_units(value, _resolve(order, self.order_fields.get("currency")))
        return value

    def get_number(self, order: models.Model) -> str:
        """The order number customers see (the primary key if there is none)."""
        number = self.field(order, "number")
        return str(number if number not in (None, "") else order.pk)

    def get_order_by_number(self, number: str) -> models.Model | None:
        """The order with this number, or None."""
        path = self.order_fields.get("number")
        lookup = path if path else "pk"
        try:
            return self.get_order_model()._default_manager.get(**{lookup: number})
        except (ObjectDoesNotExist, ValueError, TypeError):
            return None

    def find_order(self, number: str) -> models.Model | None:
        """The order a customer typed the number of, ignoring case and outer
        spaces, or None (the customer pages' lookup form).
        """
        number = (number or "").strip()
        path = self.order_fields.get("number")
        if not number:
            return None
        lookup = "%s__iexact" % path if path else "pk"
        try:
            return (
                self.get_queryset()
                .select_related("order_updates_state")
                .filter(**{lookup: number})
                .first()
            )
        except (ValueError, TypeError):
            return None

    def get_postcode(self, order: models.Model) -> str:
        """The delivery address's postcode ('' if the shop has none)."""
        postcode = self.field(order, "shipping_postcode")
        return str(postcode) if postcode not in (None, "") else ""

    def has_postcode(self) -> bool:
        """Whether orders have a delivery postcode, which the lookup form then
        accepts instead of the email address: ``shipping_postcode`` is mapped in
        ``ORDER_FIELDS``, or a subclass overrides :meth:`get_postcode`.
        """
        overridden = type(self).get_postcode is not DefaultOrderAdapter.get_postcode
        return overridden or bool(self.order_fields.get("shipping_postcode"))

    def get_orders_by_number(self, numbers: list[str]) -> QuerySet:
        """The orders with these numbers, in one query (the API's bulk changes).

        Override it together with :meth:`get_order_by_number`.
        """
        path = self.order_fields.get("number")
        if path:
            return self.get_queryset().filter(**{"%s__in" % path: numbers})
        # The primary key is the number: what cannot be one names no order.
        field = self.get_order_model()._meta.pk
        keys = []
        for number in numbers:
            try:
                keys.append(field.to_python(number))
            except ValidationError:
                continue
        return self.get_queryset().filter(pk__in=keys)

    def get_user(self, order: models.Model) -> Any:
        """The customer's user account, or None for a guest order."""
        # Any: an instance of the project's AUTH_USER_MODEL, which the app cannot name.
        return self.field(order, "user")

    def get_email(self, order: models.Model) -> str:
        """The address to write to about this order ('' if none)."""
        email = self.field(order, "email")
        if not email:
            user = self.get_user(order)
            email = getattr(user, "email", "") if user is not None else ""
        return email or ""

    def get_phone(self, order: models.Model) -> str:
        """The customer's phone number in E.164 form ('' if none)."""
        phone = self.field(order, "phone")
        if not phone:
            return ""
        as_e164 = getattr(phone, "as_e164", None)
        return str(as_e164 if as_e164 else phone)

    def get_user_phone(self, user: Any) -> str:
        """A user's own phone number in E.164 form ('' if none or not valid).

        Read at ``ORDER_UPDATES["USER_PHONE_FIELD"]`` on the user ("__" follows
        relations; a missing link means none). The template editor sends SMS
        tests to a staff member's own number, never to one typed in. Override it
        if your users' numbers live elsewhere.
        """
        path = app_settings.USER_PHONE_FIELD
        if user is None or not path:
            return ""
        return normalize_phone(_resolve(user, path, lenient=True))

    def get_language(self, order: models.Model) -> str:
        """The language code to write to the customer in."""
        return self.field(order, "language") or settings.LANGUAGE_CODE

    def get_customer_name(self, order: models.Model) -> str:
        """The customer's name, for salutations ('' if unknown)."""
        name = self.field(order, "customer_name")
        if name:
            return str(name)
        user = self.get_user(order)
        if user is not None:
            full_name = getattr(user, "get_full_name", None)
            if full_name and full_name():
                return full_name()
        return ""

    def get_orders_for_user(self, user: AbstractBaseUser | AnonymousUser) -> QuerySet:
        """The orders this user may see as a customer."""
        model = self.get_order_model()
        path = self.order_fields.get("user")
        if not getattr(user, "is_authenticated", False) or not path:
            return model._default_manager.none()
        return model._default_manager.filter(**{path: user})

    def get_shipping_address(self, order: models.Model) -> str:
        """The delivery address as text, one line per address line ('' if none)."""
        path = self.order_fields.get("shipping_address")
        paths = path if isinstance(path, (list, tuple)) else [path]
        lines = [_resolve(order, item) for item in paths]
        return "\n".join(str(line) for line in lines if line not in (None, ""))

    def get_order_url(self, order: models.Model) -> str:
        """Where the customer sees this order: an absolute URL or a path on
        ``SITE_URL`` ('' if the shop has no such page). Messages link to it.
        """
        return ""

    def get_initial_status(self, order: models.Model) -> str:
        """The status an order starts in when tracking starts without one: the
        one its own status field means (``STATUS_FIELD``), else the pipeline's
        initial status.
        """
        field = status_field()
        if field:
            code = pipeline_code(getattr(order, field, None))
            if code:
                return code
        return get_pipeline().initial

    # Plain data for notifications ----------------------------------------------------

    def get_items(self, order: models.Model) -> list[dict[str, Any]]:
        """The order's lines as plain dicts (name, quantity, price…)."""
        related = self.field(order, "items")
        if related is None:
            return []
        rows = related.all() if hasattr(related, "all") else related
        items = [self.get_item_context(item) for item in rows]
        if app_settings.AMOUNTS_IN_MINOR_UNITS:
            currency = self.field(order, "currency")
            for item in items:
                for key in LINE_AMOUNTS:
                    if item.get(key) is not None:
                        item[key] = plain(in_units(item[key], currency))
        return items

    def get_line_quantities(self, order: models.Model) -> dict[str, int]:
        """How many of each order line were ordered, by line key (its primary key
        as a string): what shipments' ``items`` refer to. Empty when the order
        has no lines (a shipment then carries the whole order).
        """
        related = self.field(order, "items")
        if related is None:
            return {}
        rows = related.all() if hasattr(related, "all") else related
        quantity_path = self.item_fields.get("quantity")
        quantities = {}
        for row in rows:
            value = _resolve(row, quantity_path) if quantity_path else 1
            quantities[str(getattr(row, "pk", row))] = int(value or 0)
        return quantities

    def get_line_names(self, order: models.Model) -> dict[str, str]:
        """Each order line's name by line key (the keys of
        :meth:`get_line_quantities`): what shipment pages and forms show for a
        shipment's ``items``. No query when the lines are prefetched.
        """
        related = self.field(order, "items")
        if related is None:
            return {}
        rows = related.all() if hasattr(related, "all") else related
        return {
            str(getattr(row, "pk", row)): str(
                self.get_item_context(row).get("name") or ""
            )
            for row in rows
        }

    def get_item_context(self, item: Any) -> dict[str, Any]:
        """One order line as plain data: name, quantity, sku, and both
        ``unit_price`` and ``line_total`` (whichever is not mapped is derived from
        the other and the quantity). ``price`` repeats ``unit_price``.
        """
        values = {
            key: _resolve(item, path, lenient=key in self._lenient_item_fields)
            for key, path in self.item_fields.items()
            if path
        }
        unit = _amount(values.get("unit_price"))
        line = _amount(values.get("line_total"))
        quantity = _amount(values.get("quantity"))
        if line is None and unit is not None:
            line = unit * (quantity if quantity is not None else 1)
        elif unit is None and line is not None and quantity:
            unit = line / quantity
            exponent = line.as_tuple().exponent
            if isinstance(exponent, int) and exponent < 0:
                unit = unit.quantize(decimal.Decimal(1).scaleb(exponent))
        values.update(unit_price=unit, line_total=line, price=unit)
        return {
            key: plain(values.get(key))
            for key in ("name", "quantity", "unit_price", "line_total", "price", "sku")
        }

    def get_summary(
        self, order: models.Model, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The order's figures as plain data, so that a summary adds up.

        ``subtotal`` (the lines' sum when not mapped), ``shipping``, ``discount``
        (a positive amount taken off; None when there is none), ``tax``, and
        ``tax_included``: True when the total already includes the tax (it is
        shown as "including tax"), False when the tax is added to reach the
        total. Figures that do not add up to the total are logged as a warning.
        """
        lines = [_amount(item.get("line_total")) for item in items]
        subtotal = _amount(self.field(order, "subtotal"))
        known = [line for line in lines if line is not None]
        if subtotal is None and known and len(known) == len(lines):
            subtotal = sum(known, decimal.Decimal(0))
        shipping = _amount(self.field(order, "shipping"))
        discount = _amount(self.field(order, "discount"))
        discount = abs(discount) if discount else None
        tax = _amount(self.field(order, "tax")) or None
        total = _amount(self.field(order, "total"))
        tax_included = True
        if subtotal is not None and total is not None:
            before_tax = subtotal + (shipping or 0) - (discount or 0)
            if tax is not None and before_tax + tax == total and before_tax != total:
                tax_included = False
            elif before_tax != total:
                logger.warning(
                    "Order %s: its figures do not add up (subtotal %s + shipping "
                    "%s - discount %s%s != total %s). Check ORDER_UPDATES"
                    "['ORDER_FIELDS'] and ['ITEM_FIELDS'] (unit_price or "
                    "line_total?).",
                    self.get_number(order),
                    subtotal,
                    shipping or 0,
                    discount or 0,
                    " (+ tax %s)" % tax if tax is not None else "",
                    total,
                )
        return {
            "subtotal": plain(subtotal),
            "shipping": plain(shipping),
            "discount": plain(discount),
            "tax": plain(tax),
            "tax_included": tax_included,
        }

    def get_notification_context(self, order: models.Model) -> dict[str, Any]:
        """Plain data describing the order, for notification templates.

        Templates never receive model instances: only what this returns.
        """
        items = self.get_items(order)
        return {
            "number": self.get_number(order),
            "customer_name": self.get_customer_name(order),
            "email": self.get_email(order),
            "language": self.get_language(order),
            "items": items,
            **self.get_summary(order, items),
            "total": plain(self.field(order, "total")),
            "currency": plain(self.field(order, "currency")) or "",
            "shipping_address": self.get_shipping_address(order),
            "created": plain(self.field(order, "created")),
        }

    # Notifications ------------------------------------------------------------------

    def should_notify(
        self,
        order: models.Model,
        notification_type: NotificationType,
        channel: BaseChannel,
    ) -> bool:
        """Whether ``order``'s customer should get this type of message on ``channel``.

        Called once per order, notification type and channel when a change is
        queued (and before a bounced message falls back to another channel), after
        the customer's preferences and before anything is written: ``False``
        writes no outbox row for any of the channel's recipients. Override it to
        keep, say, marketplace orders or test orders quiet. The default is True.
        """
        return True


@lru_cache(maxsize=1)
def get_adapter() -> DefaultOrderAdapter:
    """Return the configured adapter instance."""
    return app_settings.ADAPTER()


RELOAD_HOOKS.append(get_adapter.cache_clear)
