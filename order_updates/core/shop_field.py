"""The shop's own status field: what its values mean, and writing it.

``ORDER_UPDATES["STATUS_FIELD"]`` names a field of the shop's order (its
``state``, Oscar's ``status``) and ``STATUS_MAP`` maps the shop's values to
pipeline codes. Every status change order_updates makes writes the shop's value
into that field here, in the same transaction; :mod:`order_updates.core.sync`
records the changes the shop makes itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from order_updates.conf import app_settings, get_order_model
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.pipeline import get_pipeline


def status_field() -> str | None:
    """The name of the shop's status field (``STATUS_FIELD``), or None."""
    return app_settings.STATUS_FIELD or None


def status_attname(model: type[models.Model], field: str) -> str:
    """The attribute of ``field`` on ``model``'s instances; a configuration error
    naming the setting if the model has no such field (check E020 says so at
    start-up).
    """
    try:
        found = model._meta.get_field(field)
    except FieldDoesNotExist:
        found = None
    if not isinstance(found, models.Field):
        raise OrderUpdatesConfigurationError(
            "ORDER_UPDATES['STATUS_FIELD'] is %r, which is not a field of %s."
            % (field, model._meta.label)
        )
    return found.attname


def status_map() -> dict[Any, str]:
    """Shop value → pipeline code; every pipeline code maps to itself when
    ``STATUS_MAP`` is empty (the shop's values are the pipeline's codes).
    """
    mapping = app_settings.STATUS_MAP
    if mapping:
        return dict(mapping)
    return {code: code for code in get_pipeline().statuses}


def pipeline_code(value: Any) -> str | None:
    """The pipeline code a shop value means, or None if it means none."""
    code = status_map().get(value)
    return code if code in get_pipeline().statuses else None


def shop_values(code: str) -> list[Any]:
    """The shop's values that mean ``code``, the one order_updates writes first."""
    return [value for value, mapped in status_map().items() if mapped == code]


def write_shop_status(
    orders: Iterable[models.Model] | None, pks: Iterable[Any], code: str
) -> None:
    """Write the shop's value for ``code`` into its status field, for ``pks``.

    One statement, inside the caller's transaction. Rows whose value already
    means ``code`` are left alone; the instances in ``orders`` get the new value
    too, so that the shop's next ``save()`` of one of them keeps it. A code the
    shop has no value for leaves the field as it is.
    """
    field = status_field()
    if not field:
        return
    values = shop_values(code)
    if not values:
        return
    pks = list(pks)
    if not pks:
        return
    model = get_order_model()
    attname = status_attname(model, field)
    model._default_manager.filter(pk__in=pks).exclude(
        **{"%s__in" % field: values}
    ).update(**{field: values[0]})
    for order in orders or ():
        if getattr(order, attname, None) not in values:
            setattr(order, attname, values[0])
