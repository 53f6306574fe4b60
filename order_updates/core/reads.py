"""Several small reads in one statement.

A change that notifies needs a handful of short lists from different tables
(the merchant's switches, the customer's preference, the order's unsent
messages…). Each is a round trip to the database; for one order at a time
those round trips cost more than the rows. :func:`read_together` sends them
as one ``UNION ALL`` of the querysets' columns cast to text, and turns each
row back into Python values with its field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

#: A read: a queryset and the names of the fields (columns) it needs.
Read = tuple[models.QuerySet, Sequence[str]]


def read_together(reads: Mapping[str, Read]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each read, as tuples of its fields' values, in one statement.

    Every queryset must use the same database. Their own ordering is dropped
    (the rows of a read come in no particular order). A read whose queryset is
    known to be empty (``filter(pk__in=[])``) costs nothing.
    """
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in reads}
    if not reads:
        return found
    width = max(len(fields) for _queryset, fields in reads.values())
    parts = []
    for name, (queryset, fields) in reads.items():
        columns = [Cast(field, TextField()) for field in fields]
        columns += [Value(None, TextField())] * (width - len(fields))
        parts.append(
            queryset.order_by().values_list(Value(name, TextField()), *columns)
        )
    first, *rest = parts
    query = first.union(*rest, all=True) if rest else first
    db = first.db
    converters = {
        name: [
            _converter(queryset.model._meta.get_field(field), db) for field in fields
        ]
        for name, (queryset, fields) in reads.items()
    }
    for name, *values in query:
        row = converters[name]
        found[name].append(
            tuple(convert(value) for convert, value in zip(row, values, strict=False))
        )
    return found


def instances(
    model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[models.Model]:
    """Model instances of ``rows`` read by :func:`read_together` with ``fields``
    (the other fields deferred, as with ``only()``); they must include the pk.
    """
    attnames = [model._meta.get_field(name).attname for name in fields]  # type: ignore[union-attr]
    # from_db() wants the values in the order of the model's fields.
    positions = [field.attname for field in model._meta.concrete_fields]
    order = sorted(range(len(attnames)), key=lambda i: positions.index(attnames[i]))
    names = [attnames[i] for i in order]
    db = models.QuerySet(model).db
    return [model.from_db(db, names, [row[i] for i in order]) for row in rows]


def _converter(field: Any, db: str) -> Any:
    """A function from the text of ``field``'s column to its Python value."""
    if isinstance(field, models.JSONField):
        decoder = field.decoder

        def convert(value: str | None) -> Any:
            return None if value is None else json.loads(value, cls=decoder)

    elif isinstance(field, models.BooleanField):

        def convert(value: str | None) -> Any:
            # "true"/"false" (PostgreSQL), 1/0 (SQLite, MySQL).
            return None if value is None else value.lower() in ("1", "t", "true")

    elif isinstance(field, models.DateTimeField):
        connection = connections[db]

        def convert(value: str | None) -> Any:
            if value is None:
                return None
            moment = field.to_python(value)
            if settings.USE_TZ and timezone.is_naive(moment):
                # Stored without an offset (SQLite, MySQL): in the database's zone.
                moment = timezone.make_aware(moment, connection.timezone)
            return moment

    else:

        def convert(value: str | None) -> Any:
            return None if value is None else field.to_python(value)

    return convert
