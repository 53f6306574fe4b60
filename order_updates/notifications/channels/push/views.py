"""The HTTP side of web push: the service worker, the public key, subscriptions.

``push_subscribe.js`` (the ``order_updates/push_subscribe.html`` snippet) calls
these; :mod:`order_updates.notifications.channels.push.subscriptions` does the
checking and storing.

Whose subscription it is comes from a signed preferences token in the JSON body
(``token``, from :func:`order_updates.notifications.links.make_push_token`),
else from the logged-in user. A request with neither gets ``403``.

Whatever the body, the answer is a JSON ``{"error": …}`` with a 4xx status, never
a server error: ``413`` beyond :data:`MAX_BODY_SIZE`, ``415`` for anything but
``application/json``, ``400`` for a body that is no JSON object (malformed, too
deeply nested, a list…) or a subscription that is wrong.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import etag, require_http_methods

from order_updates.exceptions import InvalidPushSubscription
from order_updates.notifications.channels.push.subscriptions import (
    parse_subscription,
    public_key,
    remove_subscription,
    save_subscription,
)
from order_updates.notifications.links import read_push_token

SERVICE_WORKER = (
    Path(__file__).resolve().parents[3] / "static" / "order_updates" / "push-sw.js"
)


@cache
def _service_worker() -> tuple[bytes, str]:
    content = SERVICE_WORKER.read_bytes()
    return content, '"%s"' % hashlib.sha256(content).hexdigest()[:32]


@login_not_required
@require_http_methods(["GET", "HEAD"])
@etag(lambda request: _service_worker()[1])
def service_worker_view(request: HttpRequest) -> HttpResponse:
    """The service worker that shows order updates, allowed any scope on the site.

    Served by the app rather than from static files so its URL stays the same
    across deployments (a hashed static name would be a new worker each time) and
    so it can send ``Service-Worker-Allowed: /``.
    """
    response = HttpResponse(
        _service_worker()[0], content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    # Revalidate every time (cheap: the ETag answers 304), so a new version of
    # the worker reaches browsers at their next update check.
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_not_required
@require_http_methods(["GET", "HEAD"])
@never_cache
def public_key_view(request: HttpRequest) -> JsonResponse:
    """``{"publicKey": ...}``: the VAPID key to subscribe with; 404 without push."""
    key = public_key()
    if not key:
        return _error(404, _("Web push is not configured on this site."))
    return JsonResponse({"publicKey": key})


# Subscriptions ---------------------------------------------------------------------

#: The largest request body the subscription endpoints read, in bytes. A
#: browser's subscription with a token is well under 1 KiB.
MAX_BODY_SIZE = 16 * 1024


class _Refused(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        self.status = status
        self.message = message
        self.field = field


# CSRF: a request that carries a signed token is authorised by that token alone;
# it uses no cookie or session, so a forged cross-site request gains nothing the
# forger's own token did not already allow, and CSRF protection (which guards
# ambient credentials) has nothing to protect. A request that relies on the
# session is checked in _owner(), as csrf_protect would.
@csrf_exempt
@login_not_required
@require_http_methods(["POST", "DELETE"])
@never_cache
def subscriptions_view(request: HttpRequest) -> HttpResponse:
    """POST stores the browser's subscription (201 new, 200 updated); DELETE drops it.

    The body is ``PushSubscription.toJSON()`` plus an optional ``token``; a
    DELETE needs only ``endpoint`` (and ``token``).
    """
    if request.method == "DELETE":
        return _delete(request)
    try:
        data = _json_body(request)
        owner = _owner(request, data)
        info = parse_subscription(data)
    except _Refused as refused:
        return _error(refused.status, refused.message, refused.field)
    except InvalidPushSubscription as exc:
        return _error(400, str(exc), exc.field)
    subscription, created = save_subscription(
        info, user_agent=request.headers.get("User-Agent", ""), **owner
    )
    return JsonResponse({"id": subscription.pk}, status=201 if created else 200)


@csrf_exempt  # as for subscriptions_view: tokens need none; sessions are checked
@login_not_required
@require_http_methods(["POST"])
@never_cache
def delete_subscription_view(request: HttpRequest) -> HttpResponse:
    """POST ``{"endpoint": ...}``: the same as DELETE on the subscriptions URL.

    For clients and proxies that do not send a body with DELETE.
    """
    return _delete(request)


def _delete(request: HttpRequest) -> HttpResponse:
    try:
        data = _json_body(request)
        owner = _owner(request, data)
    except _Refused as refused:
        return _error(refused.status, refused.message, refused.field)
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return _error(400, _("endpoint is missing."), "endpoint")
    # 204 whether or not there was one: deleting is idempotent, and the answer
    # must not tell whether an endpoint belongs to somebody else.
    remove_subscription(endpoint, **owner)
    return HttpResponse(status=204)


def _json_body(request: HttpRequest) -> dict:
    """The request's JSON object, or raise _Refused saying what is wrong.

    The size is checked from ``Content-Length`` before the body is read.
    """
    too_large = _Refused(
        413,
        _("The request body is too large: at most %(max)d bytes.")
        % {"max": MAX_BODY_SIZE},
        "",
    )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # Django reads no body then either
    if length > MAX_BODY_SIZE:
        raise too_large
    if request.content_type != "application/json":
        raise _Refused(
            415,
            _("Send the subscription as JSON, with Content-Type: application/json."),
            "",
        )
    body = request.body
    if len(body) > MAX_BODY_SIZE:
        raise too_large
    if _nesting(body) > MAX_NESTING:
        # Refused before parsing: how deep Python's parser goes (RecursionError)
        # depends on its version.
        raise _Refused(400, _("The request body is JSON nested too deeply."), "")
    try:
        data = json.loads(body or b"null")
    except (RecursionError, UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise _Refused(400, _("The request body must be a JSON object."), "")
    return data


#: A subscription is three levels deep ({"keys": {...}}); more is not one.
MAX_NESTING = 8


def _nesting(body: bytes) -> int:
    """How deeply the JSON arrays and objects in ``body`` nest (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _owner(request: HttpRequest, data: dict) -> dict[str, Any]:
    """``user=`` or ``email=`` for the push functions; raise _Refused if nobody."""
    token = data.get("token")
    if token:
        return _token_owner(token)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise _Refused(
            403, _("Log in, or use the link from one of our messages, to subscribe.")
        )
    if _csrf_fails(request):
        raise _Refused(
            403, _("CSRF check failed: send the CSRF token in the X-CSRFToken header.")
        )
    return {"user": user}


def _token_owner(token: Any) -> dict[str, Any]:
    try:
        link = read_push_token(token)
    except signing.SignatureExpired:
        raise _Refused(403, _("This link has expired.")) from None
    except (signing.BadSignature, TypeError, ValueError, AttributeError):
        raise _Refused(403, _("This link is not valid.")) from None
    if link.user_id is not None:
        user = get_user_model()._default_manager.filter(pk=link.user_id).first()
        if user is None:
            raise _Refused(403, _("This link is not valid."))
        return {"user": user}
    if not link.email:
        raise _Refused(403, _("This link is not valid."))
    return {"email": link.email}


def _csrf_fails(request: HttpRequest) -> bool:
    """Django's CSRF check, as ``csrf_protect`` runs it, answered in JSON by us."""

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    check = CsrfViewMiddleware(view)
    check.process_request(request)
    return check.process_view(request, view, (), {}) is not None


def _error(status: int, message: str, field: str | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JsonResponse(body, status=status)
