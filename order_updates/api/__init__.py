"""The REST API (Django REST framework), an optional extra.

Install it with ``pip install django-order-updates[api]`` and include
``order_updates.api.urls`` once; a shop that does neither loads none of it.
Customer endpoints show a user the orders the adapter says they may see;
staff endpoints change orders through :mod:`order_updates.services`, guarded by
model permissions. See docs/api.rst.
"""

try:
    import drf_spectacular  # noqa: F401
    import rest_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on what is installed
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "order_updates.api needs Django REST framework and drf-spectacular: "
        "pip install django-order-updates[api]"
    ) from exc
