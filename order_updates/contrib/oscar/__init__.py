"""order_updates for django-oscar shops (``pip install django-order-updates[oscar]``).

Add ``"order_updates.contrib.oscar"`` to ``INSTALLED_APPS`` after
``"order_updates"``, point ``ORDER_UPDATES_ORDER_MODEL`` at ``"order.Order"`` and
start ``ORDER_UPDATES`` from :data:`PRESET`; docs/oscar.rst says the rest.
"""

from typing import Any

#: Where order_updates reads an Oscar order, and how it follows Oscar's status.
#: Merge it into your settings: ``ORDER_UPDATES = {**PRESET, "STATUS_MAP": ...}``.
PRESET: dict[str, Any] = {
    "ADAPTER": "order_updates.contrib.oscar.adapter.OscarOrderAdapter",
    # Oscar's own Order.status, kept in step both ways (STATUS_MAP maps the
    # statuses of your OSCAR_ORDER_STATUS_PIPELINE to pipeline codes).
    "STATUS_FIELD": "status",
    # Oscar's checkout sends its own "order placed" email: ours stays off, so
    # customers get one. docs/oscar.rst shows how to send ours instead.
    "NOTIFICATION_TYPES": {"order_received": {"enabled": False}},
    # The customer pages (tracking, lookup, preferences) in Oscar's storefront
    # layout, which has the blocks "title" and "content" they fill, without its
    # page header (the pages have their own h1).
    "BASE_TEMPLATE": "order_updates/oscar/layout.html",
}
