"""Customer pages reached from links in messages: unsubscribe and preferences.

Both work without an account and without JavaScript: the signed token in the URL
(:mod:`order_updates.notifications.links`) says whose preferences the page changes.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from order_updates.conf import app_settings
from order_updates.models import NotificationPreference
from order_updates.notifications.channels import get_channel
from order_updates.notifications.forms import PreferencesForm
from order_updates.notifications.links import PreferenceToken, make_token, read_token
from order_updates.notifications.maintenance import health
from order_updates.notifications.preferences import preference_for, unsubscribe

#: The body mail providers POST for a one-click unsubscribe (RFC 8058).
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def render_page(
    request: HttpRequest,
    template_name: str,
    context: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render a customer page: a template extending ``order_updates/base.html``,
    which extends the shop's layout named by ``ORDER_UPDATES["BASE_TEMPLATE"]``.
    """
    context = {
        "order_updates_base_template": app_settings.BASE_TEMPLATE,
        **(context or {}),
    }
    return render(request, template_name, context, status=status)


def private_page(view_func):
    """Pages whose URL holds a secret token: never cached, never indexed, and the
    token never sent to another site in a Referer header.

    ``Referrer-Policy: same-origin``, not ``no-referrer``: with ``no-referrer``
    Chromium sends ``Origin: null`` with the page's own form posts, and Django's
    CSRF check refuses them (403). Same-origin requests carry the real origin;
    links to other sites (a carrier's page) carry no referrer at all.
    """

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        response = view_func(request, *args, **kwargs)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Robots-Tag", "noindex")
        return response

    return login_not_required(never_cache(wrapper))


class _BadLink(Exception):
    def __init__(self, expired: bool = False):
        self.expired = expired


def _read_link(token: str) -> tuple[PreferenceToken, NotificationPreference]:
    """The token's contents and its customer's preference, or raise _BadLink."""
    try:
        link = read_token(token)
    except signing.SignatureExpired:
        raise _BadLink(expired=True) from None
    except (signing.BadSignature, AttributeError, TypeError, ValueError):
        raise _BadLink() from None
    if link.user_id is not None:
        user = get_user_model()._default_manager.filter(pk=link.user_id).first()
        if user is None:
            raise _BadLink()
        return link, preference_for(user=user)
    if not link.email:
        raise _BadLink()
    return link, preference_for(email=link.email)


def _bad_link(request: HttpRequest, error: _BadLink) -> HttpResponse:
    return render_page(
        request,
        "order_updates/link_invalid.html",
        {"expired": error.expired},
        status=400,
    )


def _preferences_path(link: PreferenceToken) -> str:
    token = make_token(user_id=link.user_id, email=link.email)
    return reverse("order_updates:preferences", args=[token])


def _channel_label(name: str) -> str:
    """How the page names the link's channel: its label, else its name."""
    try:
        return str(get_channel(name).label)
    except ImproperlyConfigured:  # no longer configured; still unsubscribable
        return name


def _customer_email(link: PreferenceToken, preference: NotificationPreference) -> str:
    """The address the page names: the one the link's message went to (the
    order's, which may not be the account's), else the account's.
    """
    if link.email:
        return link.email
    if preference.user_id is not None:
        return getattr(preference.user, "email", "") or ""
    return preference.email


# Unsubscribe -----------------------------------------------------------------------


@csrf_exempt  # only the RFC 8058 one-click POST skips CSRF; see below
@require_http_methods(["GET", "HEAD", "POST"])
@private_page
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """Unsubscribe the link's customer from the link's channel.

    GET shows a confirmation page (link checkers and prefetchers must not
    unsubscribe anyone); its button POSTs back here, CSRF-checked. A POST whose
    body is ``List-Unsubscribe=One-Click`` is a mail provider's one-click
    unsubscribe (RFC 8058): it comes without cookies or CSRF token, so it is
    accepted on the strength of the signed token alone. That is safe because it
    can do nothing but unsubscribe the token's owner from the token's channel,
    which is what anybody holding the token may do anyway.
    """
    try:
        link, preference = _read_link(token)
    except _BadLink as error:
        return _bad_link(request, error)
    if not link.channel:
        return _bad_link(request, _BadLink())
    if (
        request.method == "POST"
        and request.POST.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    ):
        return _unsubscribe(request, link, preference)
    return _confirm_unsubscribe(request, link, preference)


@csrf_protect
def _confirm_unsubscribe(
    request: HttpRequest, link: PreferenceToken, preference: NotificationPreference
) -> HttpResponse:
    if request.method == "POST":
        return _unsubscribe(request, link, preference)
    return render_page(
        request,
        "order_updates/unsubscribe.html",
        {
            "channel": link.channel,
            "channel_label": _channel_label(link.channel),
            "email": _customer_email(link, preference),
            "preferences_url": _preferences_path(link),
        },
    )


def _unsubscribe(
    request: HttpRequest, link: PreferenceToken, preference: NotificationPreference
) -> HttpResponse:
    unsubscribe(preference, link.channel)
    return render_page(
        request,
        "order_updates/unsubscribed.html",
        {
            "channel": link.channel,
            "channel_label": _channel_label(link.channel),
            "email": _customer_email(link, preference),
            "preferences_url": _preferences_path(link),
        },
    )


# Preferences -----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@csrf_protect
@private_page
def preferences_view(request: HttpRequest, token: str) -> HttpResponse:
    """Show and save the link's customer's channels per category."""
    try:
        link, preference = _read_link(token)
    except _BadLink as error:
        return _bad_link(request, error)
    if request.method == "POST":
        form = PreferencesForm(request.POST, preference=preference)
        if form.is_valid():
            form.save()
            # Post/redirect/get: a reload does not post again.
            return HttpResponseRedirect(request.path + "?saved=1")
    else:
        form = PreferencesForm(preference=preference)
    return render_page(
        request,
        "order_updates/preferences.html",
        {
            "form": form,
            "email": _customer_email(link, preference),
            "saved": request.method != "POST" and request.GET.get("saved") == "1",
        },
    )


# Health ------------------------------------------------------------------------------


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def health_view(request: HttpRequest) -> HttpResponse:
    """For monitoring: 200 when notifications flow, 503 (and why) when not.

    Staff users may read it; monitoring sends ``Authorization: Bearer <token>``
    with ``ORDER_UPDATES["HEALTH_TOKEN"]``. Anyone else gets 404.
    """
    if not _may_see_health(request):
        raise Http404
    result = health()
    return JsonResponse(result.as_dict(), status=200 if result.ok else 503)


def _may_see_health(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = app_settings.HEALTH_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and constant_time_compare(given, "Bearer %s" % token)
