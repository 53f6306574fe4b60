import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader

import order_updates


@pytest.mark.django_db
def test_no_missing_migrations():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_order_foreign_keys_follow_the_setting():
    """Like AUTH_USER_MODEL: a swappable dependency, not a hard-coded shop app."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.disk_migrations[("order_updates", "0001_initial")]
    shop_app = settings.ORDER_UPDATES_ORDER_MODEL.split(".")[0]
    assert (shop_app, "__first__") in migration.dependencies
    for source in (Path(order_updates.__file__).parent / "migrations").glob("0*.py"):
        text = source.read_text()
        assert "plainshop" not in text and "customershop" not in text, source.name
        if "ORDER_MODEL" in text:
            assert "swappable_dependency(settings.ORDER_UPDATES_ORDER_MODEL)" in text
