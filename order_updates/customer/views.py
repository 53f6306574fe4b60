"""The customer pages: my orders, the order page, tracking, the lookup form.

Each page reads its data in a fixed number of queries (:mod:`.data`) and renders
a template extending ``order_updates/base.html``. None needs JavaScript.
"""

from __future__ import annotations

import re
import zoneinfo
from contextlib import nullcontext

from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.customer.data import (
    ORDER_FILTERS,
    customer_orders,
    link_version,
    order_detail,
    order_page_queryset,
    orders_page,
    summaries,
)
from order_updates.customer.forms import LookupForm
from order_updates.customer.lookup import LookupRateLimit, find_order
from order_updates.notifications.links import order_for_tracking_token, tracking_path
from order_updates.notifications.views import private_page, render_page


def _customer_zone(name: str):
    """``timezone.override()`` for the zone the customer chose (read with the
    page's data), else the shop's."""
    try:
        return timezone.override(zoneinfo.ZoneInfo(name)) if name else nullcontext()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return nullcontext()


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def my_orders_view(request: HttpRequest) -> HttpResponse:
    """The customer's orders, newest first, a page at a time; ``?show=open`` or
    ``?show=completed`` filters them.
    """
    show = request.GET.get("show", "")
    if show not in ORDER_FILTERS:
        return render_page(
            request,
            "order_updates/customer/bad_request.html",
            {"message": _("Unknown filter: choose all, open or completed orders.")},
            status=400,
        )
    try:
        page = orders_page(
            customer_orders(request.user, show),
            request.GET.get("page") or 1,
            app_settings.MY_ORDERS_PAGE_SIZE,
        )
    except (EmptyPage, PageNotAnInteger):
        raise Http404(_("No such page.")) from None
    orders, time_zone = summaries(page.object_list, customer_pk=request.user.pk)
    match = request.resolver_match
    current_app = getattr(request, "current_app", None) or (
        match.namespace if match else None
    )
    links = order_links([summary.number for summary in orders], current_app)
    for summary, link in zip(orders, links, strict=True):
        summary.url = link
    with _customer_zone(time_zone):
        return render_page(
            request,
            "order_updates/customer/my_orders.html",
            {
                "page": page,
                "orders": orders,
                "show": show,
                "filters": ORDER_FILTERS,
            },
        )


def order_links(numbers: list[str], current_app: str | None) -> list[str]:
    """The order page's address for each of ``numbers``, as ``{% url
    "order_updates:order" number %}`` makes it.

    ``reverse()`` runs once, for a stand-in number; the other links are that
    address with the number in its place, where the number is plain text
    (letters, digits, "-", "_") that ``reverse()`` puts in a URL unchanged.
    Other numbers ("2026/0001", "Nº 5") go through ``reverse()``.
    """
    try:
        sample = reverse(
            "order_updates:order", args=[_STAND_IN], current_app=current_app
        )
    except NoReverseMatch:  # a pattern the stand-in does not fit
        sample = ""
    if sample.count(_STAND_IN) != 1:
        sample = ""
    return [
        sample.replace(_STAND_IN, number)
        if sample and _PLAIN_NUMBER.match(number)
        else reverse("order_updates:order", args=[number], current_app=current_app)
        for number in numbers
    ]


#: Numbers every text converter (str, path, slug) takes and reverse() leaves as
#: they are; the stand-in is one of them.
_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9_-]+\Z")
_STAND_IN = "0rder-number-0"


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def order_view(request: HttpRequest, number: str) -> HttpResponse:
    """One of the customer's orders: progress, timeline, shipments, items.

    Another customer's order, or a number that does not exist: 404 alike.
    """
    adapter = get_adapter()
    path = adapter.order_fields.get("number") or "pk"
    try:
        mine = adapter.get_page_queryset(adapter.get_orders_for_user(request.user))
        order = order_page_queryset(mine).get(**{path: number})
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404(_("No such order.")) from None
    detail = order_detail(order, customer_pk=request.user.pk)
    with _customer_zone(detail.time_zone):
        return render_page(
            request, "order_updates/customer/order.html", {"detail": detail}
        )


@private_page
@require_http_methods(["GET", "HEAD"])
def tracking_view(request: HttpRequest, token: str) -> HttpResponse:
    """The public tracking page a signed link opens: status, progress, timeline
    and shipments; no name, address or email. Tampered, expired or revoked
    links: 404.
    """
    order = order_for_tracking_token(token)
    if order is None:
        raise Http404(_("This tracking link is not valid."))
    return render_page(
        request,
        "order_updates/customer/tracking.html",
        {"detail": order_detail(order, items=False)},
    )


@login_not_required
@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def lookup_view(request: HttpRequest) -> HttpResponse:
    """Find an order by number and email address (or postcode, when the adapter
    has one): success goes to its tracking page; a wrong answer gets the same
    reply whether or not the order exists; too many attempts get 429.
    """
    postcode = get_adapter().has_postcode()
    form = LookupForm(
        request.POST if request.method == "POST" else None, postcode=postcode
    )
    status = 200
    not_found = False
    limited = False
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["number"]
        result = LookupRateLimit().hit(request, number)
        if not result.allowed:
            limited = True
            status = 429
        else:
            order = find_order(number, form.cleaned_data["secret"])
            version = link_version(order) if order is not None else None
            if order is not None and version is not None:
                return HttpResponseRedirect(tracking_path(order.pk, version))
            not_found = True
    elif request.method == "POST":
        status = 400
    response = render_page(
        request,
        "order_updates/customer/lookup.html",
        {
            "form": form,
            "postcode": postcode,
            "not_found": not_found,
            "limited": limited,
            "retry_minutes": max(1, app_settings.LOOKUP_WINDOW_SECONDS // 60),
        },
        status=status,
    )
    if limited:
        response["Retry-After"] = str(app_settings.LOOKUP_WINDOW_SECONDS)
    return response
