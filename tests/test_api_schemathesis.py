"""Schemathesis against the API's own OpenAPI schema, in process: generated
requests (a few per operation, to keep the suite quick) never get a 5xx, nor
an answer that the schema does not describe."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from order_updates import services
from order_updates.api.schema import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


schema = schemathesis.openapi.from_dict(openapi_document())
app = get_wsgi_application()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: a request's end must not close the
    connection that holds the test's transaction (it would on PostgreSQL)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _any_host_no_throttling(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": None, "staff": None},
    }


@pytest.fixture
def token(db, django_user_model, make_order):
    """A superuser's token (every endpoint answers it), and some orders."""
    user = django_user_model.objects.create_superuser("fuzz", "fuzz@example.com", "pw")
    for _ in range(3):
        order = make_order(user=user)
        services.set_status(order, "confirmed")
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case, token):
    case.call_and_validate(
        app=app, headers={"Authorization": "Token " + token}, checks=CHECKS
    )
