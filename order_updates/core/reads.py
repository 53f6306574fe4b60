"""Cheaper reads: several small reads in one statement, and statements of a
fixed shape compiled once.

A change that notifies needs a handful of short lists from different tables
(the merchant's switches, the customer's preference, the order's unsent
messages…). Each is a round trip to the database; for one order at a time
those round trips cost more than the rows. :func:`read_together` sends them
as one ``UNION ALL`` of the querysets' columns cast to text, and turns each
row back into Python values with its field.

A page reads an order's events, parcels and scans with the same queries on
every request; only the order changes. Django builds and compiles a queryset's
SQL afresh each time, which costs more than running such a short query does.
:class:`FixedRead` keeps the SQL Django compiled for a queryset, per database,
and runs it again with the new values; :func:`run_fixed_reads` sends a page's
independent reads (those, and :class:`QuerysetRead`'s querysets compiled each
time) to PostgreSQL in one round trip.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
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


class FixedRead:
    """A read whose SQL does not change with its arguments, only its parameters:
    ``build(*args)`` returns the queryset (of ``model``'s instances, with any
    filters, joins, annotations and ordering, but no ``select_related``);
    calling the read runs it and returns its rows as ``build(*args)`` would.

    The first call on a database compiles ``build`` applied to stand-in values
    and notes where they land among the statement's parameters, and which
    columns hold the model's fields and annotations; later calls put the real
    values there, run the same SQL and build the instances from its rows as the
    queryset does (the database's and the fields' converters, ``from_db()``).
    The arguments are integers (ids), or lists of them (for ``__in``: the
    statement is then compiled once per length); other values go through the
    ORM. A shape that the stand-ins cannot be found in, or that this plan does
    not cover (composite keys, ``extra()``), or a queryset that matches nothing
    by construction, is run by the ORM every time, so the result is always the
    queryset's.
    """

    def __init__(
        self, model: type[models.Model], build: Callable[..., models.QuerySet]
    ):
        self.model = model
        self.build = build
        self._compiled: dict[
            tuple[Any, ...], tuple[str, list[Any], list[list[int]], _Rows] | None
        ] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> list[Any]:
        return run_fixed_reads([(self, args)])[0]

    def run(self, args: tuple[Any, ...]) -> list[Any]:
        """The rows through the ORM (what :meth:`statement` stands in for)."""
        return list(self.build(*args).using(router.db_for_read(self.model)))

    def statement(self, args: tuple[Any, ...]) -> _Statement | None:
        """The read of ``args`` ready to run: its database, SQL with the real
        values among its parameters, and the plan of its rows; None if the ORM
        must run it (see the class)."""
        db = router.db_for_read(self.model)
        shape = (db, *(len(arg) if isinstance(arg, list) else None for arg in args))
        if shape not in self._compiled:
            with self._lock:
                self._compiled[shape] = self._compile(db, args)
        compiled = self._compiled[shape]
        values = [
            value for arg in args for value in (arg if isinstance(arg, list) else [arg])
        ]
        # The SQL was made for integers (the stand-ins): anything else (a text
        # id the field would convert) goes through the ORM.
        if compiled is None or not all(type(value) is int for value in values):
            return None
        sql, params, positions, rows = compiled
        params = list(params)
        for places, value in zip(positions, values, strict=True):
            for place in places:
                params[place] = value
        return _Statement(db, sql, params, rows)

    def _compile(
        self, db: str, args: tuple[Any, ...]
    ) -> tuple[str, list[Any], list[list[int]], _Rows] | None:
        # Stand-ins: one integer per value, each to be found among the
        # parameters; within every integer column's range (Django leaves an
        # out-of-range value out of the SQL).
        stand_ins: list[int] = []
        built_args: list[Any] = []
        for arg in args:
            count = len(arg) if isinstance(arg, list) else 1
            values = [1_987_654_321 + len(stand_ins) + i for i in range(count)]
            stand_ins += values
            built_args.append(values if isinstance(arg, list) else values[0])
        try:
            queryset = self.build(*built_args).using(db)
            compiler = queryset.query.get_compiler(using=db)
            sql, params = compiler.as_sql()
        except Exception:  # EmptyResultSet, a stand-in a field refuses: the ORM decides
            return None
        if queryset.query.select_related or queryset.model is not self.model:
            return None  # one model's rows only, as ModelIterable's simplest case
        rows = _Rows.of(compiler)
        if rows is None:
            return None
        params = list(params)
        positions = []
        for stand_in in stand_ins:
            found = [i for i, param in enumerate(params) if param == stand_in]
            if not found:
                return None
            positions.append(found)
        return sql, params, positions, rows


class QuerysetRead:
    """A queryset to send with a page's other reads (:func:`run_fixed_reads`),
    compiled by Django on each call: for querysets of the shop's models, whose
    SQL may differ from one call to the next (a manager that filters by the
    request's tenant), where :class:`FixedRead` would keep the first.

    Its rows become instances as the queryset makes them, with the objects it
    already knows set on them (a related manager's instance); a queryset this
    cannot run that way (``select_related``, ``prefetch_related``, ``values()``)
    is run by the ORM.
    """

    def __init__(self, queryset: models.QuerySet):
        self.queryset = queryset
        self.model = queryset.model

    def statement(self, args: tuple[Any, ...] = ()) -> _Statement | None:
        queryset = self.queryset
        if (
            queryset.query.select_related
            or queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or queryset._iterable_class is not models.query.ModelIterable
        ):
            return None
        try:
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return None
        rows = _Rows.of(compiler)
        if rows is None:
            return None
        return _Statement(queryset.db, sql, list(params), rows, self._set_known)

    def run(self, args: tuple[Any, ...] = ()) -> list[Any]:
        return list(self.queryset)

    def _set_known(self, instances: list[models.Model]) -> None:
        # What ModelIterable does with a related manager's instance: each line's
        # ``order`` is that order, not a query.
        known_objects = self.queryset._known_related_objects  # type: ignore[attr-defined]
        for field, known in known_objects.items():
            for instance in instances:
                found = known.get(getattr(instance, field.attname))
                if found is not None:
                    setattr(instance, field.name, found)


class _Statement(NamedTuple):
    db: str
    sql: str
    params: list[Any]
    rows: _Rows
    #: Called with the instances made (QuerysetRead's known related objects).
    finish: Callable[[list[models.Model]], None] | None = None

    def instances(self, rows: list[tuple[Any, ...]], connection: Any) -> list[Any]:
        made = self.rows.instances(rows, self.db, connection)
        if self.finish is not None:
            self.finish(made)
        return made


def run_fixed_reads(
    reads: Sequence[tuple[FixedRead | QuerysetRead, tuple[Any, ...]]],
) -> list[list[Any]]:
    """What calling each ``(read, args)`` would return, in order.

    A page makes several such reads that do not depend on each other (an
    order's events, parcels and scans). On PostgreSQL through psycopg 3's
    client-side binding (Django's default) their statements go to the server
    in one ``execute()``, each result read in turn with ``nextset()``: one
    round trip instead of one per read. Elsewhere (SQLite, psycopg 2,
    ``server_side_binding``) each runs on its own.
    """
    results: list[list[Any] | None] = [None] * len(reads)
    pending: list[tuple[int, _Statement]] = []
    for index, (read, args) in enumerate(reads):
        statement = read.statement(args)
        if statement is None:
            results[index] = read.run(args)
        else:
            pending.append((index, statement))
    while pending:
        db = pending[0][1].db
        together = [(i, s) for i, s in pending if s.db == db]
        pending = [(i, s) for i, s in pending if s.db != db]
        connection = connections[db]
        with connection.cursor() as cursor:
            if len(together) > 1 and _takes_many_statements(connection, cursor):
                cursor.execute(
                    STATEMENT_SEPARATOR.join(s.sql for _i, s in together),
                    [param for _i, s in together for param in s.params],
                )
                for position, (index, statement) in enumerate(together):
                    if position:
                        cursor.nextset()
                    results[index] = statement.instances(cursor.fetchall(), connection)
            else:
                for index, statement in together:
                    cursor.execute(statement.sql, statement.params)
                    results[index] = statement.instances(cursor.fetchall(), connection)
    return results  # type: ignore[return-value]


#: Between the statements that run_fixed_reads() sends in one execute().
STATEMENT_SEPARATOR = ";\n"


def _takes_many_statements(connection: Any, cursor: Any) -> bool:
    """Several statements with parameters in one execute(): psycopg 3's
    ClientCursor (it sends them as one simple query, results read with
    nextset()); not its server-side binding cursor, nor psycopg 2."""
    if connection.vendor != "postgresql":
        return False
    try:
        from psycopg import ClientCursor
    except ImportError:  # psycopg 2
        return False
    return isinstance(cursor.cursor, ClientCursor)


class _Rows:
    """How a compiled queryset's rows become its model's instances: what
    Django's ``ModelIterable`` does with a compiler's ``select``, kept so that
    the SQL need not be compiled again to know it.
    """

    def __init__(
        self,
        model: type[models.Model],
        expressions: list[Any],
        fields: slice,
        attnames: list[str],
        annotations: dict[str, int],
    ):
        self.model = model
        self.expressions = expressions
        self.fields = fields
        self.attnames = attnames
        self.annotations = annotations

    @classmethod
    def of(cls, compiler: Any) -> _Rows | None:
        """The plan of ``compiler``'s rows (after ``as_sql()``), or None for a
        select this plan doesn't cover (composite keys, extra())."""
        expressions = [column for column, _sql, _alias in compiler.select]
        positions = compiler.klass_info["select_fields"]
        if (
            compiler.query.extra_select
            or any(type(e).__name__ == "ColPairs" for e in expressions)
            or positions != list(range(positions[0], positions[-1] + 1))
        ):
            return None
        fields = slice(positions[0], positions[-1] + 1)
        return cls(
            compiler.klass_info["model"],
            expressions,
            fields,
            [column.target.attname for column in expressions[fields]],
            dict(compiler.annotation_col_map),
        )

    def instances(
        self, rows: list[tuple[Any, ...]], db: str, connection: Any
    ) -> list[models.Model]:
        # The converters are the connection's own (bound to its thread's
        # wrapper): asked for on each call, as the compiler does.
        converters = []
        for position, expression in enumerate(self.expressions):
            found = connection.ops.get_db_converters(
                expression
            ) + expression.get_db_converters(connection)
            if found:
                converters.append((position, found, expression))
        from_db = self.model.from_db
        result = []
        for fetched in rows:
            row = list(fetched)
            for position, found, expression in converters:
                value = row[position]
                for convert in found:
                    value = convert(value, expression, connection)
                row[position] = value
            instance = from_db(db, self.attnames, row[self.fields])
            for name, position in self.annotations.items():
                setattr(instance, name, row[position])
            result.append(instance)
        return result
