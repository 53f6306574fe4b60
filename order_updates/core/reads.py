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
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.utils import timezone

#: A read: a queryset and the names of the fields (columns) it needs.
Read = tuple[models.QuerySet, Sequence[str]]


def read_together(reads: Mapping[str, Read]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each read, as tuples of its fields' values, in one statement.

    Every queryset must use the same database. Their own ordering is dropped
    (the rows of a read come in no particular order). A read whose queryset is
    known to be empty (``filter(pk__in=[])``) costs nothing. On databases other
    than PostgreSQL and SQLite each read is a statement of its own.
    """
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in reads}
    queries = {}
    for name, (queryset, fields) in reads.items():
        try:
            # Columns aliased with the fields' names (as Django writes a
            # subquery): a derived table's own column names are not the same
            # on every database.
            query = queryset.order_by().values_list(*fields).query
            compiler = query.get_compiler(queryset.db)
            queries[name] = compiler.as_sql(with_col_aliases=True)
        except EmptyResultSet:
            continue
    if not queries:
        return found
    db = next(iter(reads.values()))[0].db
    connection = connections[db]
    if connection.vendor not in ("postgresql", "sqlite"):
        for name in queries:
            queryset, fields = reads[name]
            found[name] = list(queryset.order_by().values_list(*fields))
        return found
    # The SQL Django compiled for each read, as a derived table whose columns
    # are cast to text, so that the reads can share one UNION ALL. (Cheaper to
    # build than the same union from querysets with Cast() annotations.)
    width = max(len(reads[name][1]) for name in queries)
    parts = []
    params: list[Any] = []
    converters = {}
    for name, (sql, query_params) in queries.items():
        queryset, fields = reads[name]
        model_fields = [queryset.model._meta.get_field(field) for field in fields]
        quote = connection.ops.quote_name
        columns = ["CAST(t.%s AS text)" % quote(field) for field in fields]
        columns += ["NULL"] * (width - len(fields))
        parts.append(
            "SELECT CAST(%%s AS text), %s FROM (%s) t" % (", ".join(columns), sql)
        )
        params += [name, *query_params]
        converters[name] = [_converter(field, db) for field in model_fields]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    for name, *values in rows:
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
