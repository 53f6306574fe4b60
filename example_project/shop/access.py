"""Who may see an order's page, and the signed key in guests' links.

A customer with an account logs in. A guest has the browser that placed the
order (the session remembers it) or the link from a notification, which carries
a key signed with ``SECRET_KEY``: it opens that order's page only, and only for
:data:`KEY_MAX_AGE`.
"""

import datetime

from django.core import signing
from django.urls import reverse
from django.utils.http import urlencode

#: Session key listing the order numbers this browser placed or opened.
SESSION_KEY = "shop_placed_orders"
#: How long a guest's link stays valid.
KEY_MAX_AGE = datetime.timedelta(days=90)

_signer = signing.TimestampSigner(salt="shop.order-page")


def order_key(order):
    """The key for ``order``'s page: the signature and time of its number."""
    return _signer.sign(order.number).split(_signer.sep, 1)[1]


def check_order_key(order, key):
    """Whether ``key`` was made by :func:`order_key` for ``order`` and is recent."""
    try:
        _signer.unsign(
            "%s%s%s" % (order.number, _signer.sep, key or ""), max_age=KEY_MAX_AGE
        )
    except signing.BadSignature:  # SignatureExpired included
        return False
    return True


def order_page_path(order, *, with_key=False):
    """The path of ``order``'s page, with ``?key=`` for a guest's link."""
    path = reverse("shop:order_confirmation", args=[order.number])
    if with_key:
        path += "?" + urlencode({"key": order_key(order)})
    return path


def remember(request, order):
    """Let this browser see ``order`` again without a key (last 20 kept)."""
    placed = [n for n in request.session.get(SESSION_KEY, []) if n != order.number]
    request.session[SESSION_KEY] = [*placed, order.number][-20:]


def remembered(request, order):
    return order.number in request.session.get(SESSION_KEY, [])
