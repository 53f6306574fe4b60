"""Counting what a page asks the database: statements and round trips.

``run_fixed_reads()`` sends a page's independent reads in one ``execute()`` on
PostgreSQL (several statements, one round trip), so a captured query may hold
more than one statement.
"""

from django.db import connection

from order_updates.core.reads import STATEMENT_SEPARATOR


def statements(captured) -> int:
    """The SQL statements in ``captured`` (a CaptureQueriesContext)."""
    return sum(query["sql"].count(STATEMENT_SEPARATOR) + 1 for query in captured)


def round_trips(on_sqlite: int, on_postgresql: int) -> int:
    """The round trips expected on the test database."""
    return on_postgresql if connection.vendor == "postgresql" else on_sqlite
