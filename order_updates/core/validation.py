"""Checking what callers hand the services, before anything is written.

Every service, single or bulk, runs its arguments through these functions first,
so bad input raises :class:`~order_updates.exceptions.InvalidInput` (or
:class:`~order_updates.exceptions.InvalidInputType` for a wrong type) naming the
argument, and the database stays as it was. Where a user would want the value
cleaned rather than refused, it is cleaned: NUL characters are removed from text
(PostgreSQL cannot store them, and nobody means to send one).

:func:`clean_text` and :func:`plain_json` are the lenient counterparts for data
from outside that must be recorded whatever it looks like (a provider's webhook):
they never raise.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext

from order_updates.conf import app_settings, get_order_model
from order_updates.exceptions import (
    InvalidInput,
    InvalidInputType,
    OrderUpdatesConfigurationError,
)
from order_updates.models import Shipment
from order_updates.pipeline import Status, get_pipeline

#: The largest ``data`` a timeline event takes: bytes of its JSON (UTF-8).
MAX_DATA_SIZE = 64 * 1024
#: The deepest nesting of lists and dicts ``data`` may have.
MAX_DATA_DEPTH = 32
#: An actor label is cut to this many characters (the column's length).
MAX_ACTOR_LENGTH = 150
#: The shipment fields a caller gives (add_shipment's keyword arguments).
SHIPMENT_FIELDS = (
    "carrier",
    "tracking_number",
    "tracking_url",
    "carrier_name",
    "service",
    "shipped_at",
    "more_tracking_numbers",
)
#: The text columns among them.
_SHIPMENT_TEXT = (
    "carrier",
    "tracking_number",
    "tracking_url",
    "carrier_name",
    "service",
)


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for messages."""
    return type(value).__name__


def max_message_length() -> int:
    """``ORDER_UPDATES["MAX_MESSAGE_LENGTH"]``, checked."""
    value = app_settings.MAX_MESSAGE_LENGTH
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OrderUpdatesConfigurationError(
            "ORDER_UPDATES['MAX_MESSAGE_LENGTH'] must be a positive whole number "
            "of characters, not %r." % (value,)
        )
    return value


# Text ---------------------------------------------------------------------------------


def replayable(values: Any) -> Any:
    """``values``, as a list if it is a one-shot iterator (a generator…), so
    that a transaction run again (after a deadlock) reads the same values; any
    other value as it is, for the checks that follow to judge."""
    try:
        one_shot = iter(values) is values
    except TypeError:
        return values
    return list(values) if one_shot else values


def text(
    value: Any,
    argument: str,
    *,
    max_length: int | None = None,
    required: bool = False,
) -> str:
    """``value`` as text to store: NUL characters removed, length checked.

    ``None`` is ``""`` (no text). A lazy translation is turned into text in the
    active language. Raises :class:`InvalidInputType` for anything but text,
    and :class:`InvalidInput` for a lone surrogate (not valid Unicode), text
    longer than ``max_length`` (default ``MAX_MESSAGE_LENGTH``), or, when
    ``required``, no text at all.
    """
    value = _unicode(value, argument)
    limit = max_message_length() if max_length is None else max_length
    if len(value) > limit:
        raise InvalidInput(
            argument,
            gettext(
                "%(argument)s is too long: %(length)d characters, at most "
                "%(limit)d are allowed."
            )
            % {"argument": argument, "length": len(value), "limit": limit},
        )
    if required and not value.strip():
        raise InvalidInput(
            argument, gettext("%(argument)s is empty.") % {"argument": argument}
        )
    return value


def _unicode(value: Any, argument: str) -> str:
    """``value`` as a plain str without NUL characters; raise if it is no text."""
    if value is None:
        return ""
    if isinstance(value, Promise):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be text (a str), not %(type)s.")
            % {"argument": argument, "type": type_name(value)},
        )
    value = str(value).replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            argument,
            gettext(
                "%(argument)s is not valid Unicode text: it contains a lone "
                "surrogate (U+%(code)04X) at position %(position)d."
            )
            % {
                "argument": argument,
                "code": ord(value[exc.start]),
                "position": exc.start,
            },
        ) from None
    return value


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(value: Any, max_length: int) -> str:
    """Anything as storable text, never raising: for data from outside.

    ``None`` is ``""``; other non-text is turned into text (``str()``); NUL
    characters are removed, lone surrogates become U+FFFD, and the result is cut
    to ``max_length`` characters.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # a broken __str__ must not lose the report
            value = "<%s>" % type_name(value)
    value = _SURROGATES.sub("\ufffd", value.replace("\x00", ""))
    return value[:max_length]


# Flags, choices, times ----------------------------------------------------------------


def flag(value: Any, argument: str) -> bool:
    """``value`` if it is ``True`` or ``False``; :class:`InvalidInputType` otherwise.

    Strict on purpose: ``notify="no"`` would otherwise notify.
    """
    if not isinstance(value, bool):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be True or False, not %(value)r.")
            % {"argument": argument, "value": value},
        )
    return value


def choice(value: Any, argument: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (text)."""
    known = list(choices)
    if not isinstance(value, str):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be one of %(choices)s (a str), not %(type)s.")
            % {
                "argument": argument,
                "choices": ", ".join(known),
                "type": type_name(value),
            },
        )
    if value not in known:
        raise InvalidInput(
            argument,
            gettext("%(argument)s must be one of %(choices)s, not %(value)r.")
            % {"argument": argument, "choices": ", ".join(known), "value": value},
        )
    return value


def status(value: Any, argument: str = "status") -> Status:
    """The pipeline's :class:`~order_updates.pipeline.Status` for code ``value``.

    :class:`InvalidInputType` if it is not text, the pipeline's
    :class:`~order_updates.exceptions.UnknownStatus` if it is no status.
    """
    if not isinstance(value, str):
        raise InvalidInputType(
            argument,
            gettext(
                "%(argument)s must be a status code (a str) such as 'shipped', "
                "not %(type)s."
            )
            % {"argument": argument, "type": type_name(value)},
        )
    return get_pipeline().get(value)


def moment(value: Any, argument: str) -> datetime.datetime | None:
    """``value`` if it is ``None`` or a datetime the database can store.

    With ``USE_TZ`` it must be aware (:func:`django.utils.timezone.make_aware`),
    without it naive.
    """
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be a datetime, not %(type)s.")
            % {"argument": argument, "type": type_name(value)},
        )
    aware = value.utcoffset() is not None
    if settings.USE_TZ and not aware:
        raise InvalidInput(
            argument,
            gettext(
                "%(argument)s must be timezone-aware, since USE_TZ is on: use "
                "django.utils.timezone.make_aware() or timezone.now()."
            )
            % {"argument": argument},
        )
    if not settings.USE_TZ and aware:
        raise InvalidInput(
            argument,
            gettext("%(argument)s must be naive, since USE_TZ is off.")
            % {"argument": argument},
        )
    if aware:
        try:
            value.astimezone(datetime.timezone.utc)
        except OverflowError:
            raise InvalidInput(
                argument,
                gettext("%(argument)s is out of range: %(value)s.")
                % {"argument": argument, "value": value.isoformat()},
            ) from None
    return value


def clean_moment(value: Any) -> datetime.datetime | None:
    """``value`` as a datetime the database can store, or ``None``; never raises.

    For times from outside (a provider's report): anything but a datetime is
    ``None``; a naive one is taken as UTC when ``USE_TZ`` is on; one that cannot
    be converted to UTC (year 9999 west of Greenwich) is ``None``.
    """
    if not isinstance(value, datetime.datetime):
        return None
    aware = value.utcoffset() is not None
    try:
        if settings.USE_TZ and not aware:
            return value.replace(tzinfo=datetime.timezone.utc)
        if aware:
            converted = value.astimezone(datetime.timezone.utc)
            return converted if settings.USE_TZ else converted.replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None
    return value


def positive_int(value: Any, argument: str) -> int | None:
    """``value`` if it is ``None`` or a whole number of at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be a whole number, not %(type)s.")
            % {"argument": argument, "type": type_name(value)},
        )
    if value < 1:
        raise InvalidInput(
            argument,
            gettext("%(argument)s must be at least 1, not %(value)d.")
            % {"argument": argument, "value": value},
        )
    return value


# Who and what -------------------------------------------------------------------------


def actor(value: Any, argument: str = "actor") -> Any:
    """``value`` if it is ``None``, a user (``request.user``, even anonymous), or a
    label; a label loses NUL characters and is cut to :data:`MAX_ACTOR_LENGTH`.
    """
    if value is None or hasattr(value, "is_authenticated"):
        return value
    if isinstance(value, (str, Promise)):
        return _unicode(value, argument)[:MAX_ACTOR_LENGTH]
    raise InvalidInputType(
        argument,
        gettext(
            "actor must be a user, a label such as 'carrier:ups' (a str) or "
            "None, not %(type)s."
        )
        % {"type": type_name(value)},
    )


def order(value: Any, argument: str = "order") -> models.Model:
    """``value`` if it is a saved instance of the configured order model."""
    model = get_order_model()
    if not isinstance(value, model):
        raise InvalidInputType(
            argument,
            gettext("Expected a %(model)s (ORDER_UPDATES_ORDER_MODEL), got %(value)s.")
            % {"model": model._meta.label, "value": _short_repr(value)},
        )
    if value.pk is None:
        raise InvalidInput(
            argument, gettext("Save the order before changing its status.")
        )
    return value


def order_queryset(value: Any, argument: str = "orders") -> models.QuerySet:
    """``value`` if it is a queryset of the configured order model."""
    model = get_order_model()
    if not isinstance(value, models.QuerySet) or not issubclass(value.model, model):
        got = (
            "one of %s" % value.model._meta.label
            if isinstance(value, models.QuerySet)
            else _short_repr(value)
        )
        raise InvalidInputType(
            argument,
            gettext(
                "Expected a queryset of %(model)s (ORDER_UPDATES_ORDER_MODEL), "
                "got %(value)s."
            )
            % {"model": model._meta.label, "value": got},
        )
    return value


def order_pk(value: Any, argument: str) -> Any:
    """An order's primary key given as such (not an instance), converted."""
    if value is None:
        raise InvalidInputType(
            argument,
            gettext("%(argument)s: an order or its primary key is needed, not None.")
            % {"argument": argument},
        )
    try:
        return get_order_model()._meta.pk.to_python(value)
    except ValidationError as exc:
        raise InvalidInput(
            argument,
            gettext("%(argument)s: %(value)s is not an order's primary key: %(why)s")
            % {
                "argument": argument,
                "value": _short_repr(value),
                "why": " ".join(exc.messages),
            },
        ) from None


def _short_repr(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


# JSON data ----------------------------------------------------------------------------


def data(value: Any, argument: str = "data") -> dict[str, Any]:
    """``value`` if it is a dict the timeline can store as JSON; ``None`` is ``{}``.

    Dates, times, decimals and UUIDs are allowed (Django's ``DjangoJSONEncoder``
    turns them into text). Refused: other objects, NaN and infinities (not
    JSON), NUL characters and lone surrogates in strings (PostgreSQL's ``jsonb``
    cannot store them), more than :data:`MAX_DATA_DEPTH` levels, and more than
    :data:`MAX_DATA_SIZE` bytes of JSON.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be a dict, not %(type)s.")
            % {"argument": argument, "type": type_name(value)},
        )
    try:
        encoded = json.dumps(
            value, cls=DjangoJSONEncoder, allow_nan=False, ensure_ascii=False
        )
    except RecursionError:
        raise _too_deep(argument) from None
    except TypeError as exc:
        raise InvalidInputType(
            argument,
            gettext(
                "%(argument)s cannot be stored as JSON: %(error)s. Use text, "
                "numbers, True/False, None, lists and dicts (dates, decimals and "
                "UUIDs are turned into text)."
            )
            % {"argument": argument, "error": exc},
        ) from None
    except ValueError as exc:  # NaN/infinity, a circular reference
        raise InvalidInput(
            argument,
            gettext("%(argument)s cannot be stored as JSON: %(error)s.")
            % {"argument": argument, "error": exc},
        ) from None
    size = len(encoded.encode("utf-8", "surrogatepass"))
    if size > MAX_DATA_SIZE:
        raise InvalidInput(
            argument,
            gettext(
                "%(argument)s is too large: %(size)d bytes as JSON, at most "
                "%(limit)d are allowed."
            )
            % {"argument": argument, "size": size, "limit": MAX_DATA_SIZE},
        )
    _check_json_strings(json.loads(encoded), argument)
    return dict(value)


def _too_deep(argument: str) -> InvalidInput:
    return InvalidInput(
        argument,
        gettext("%(argument)s is nested too deeply: at most %(limit)d levels.")
        % {"argument": argument, "limit": MAX_DATA_DEPTH},
    )


def _check_json_strings(plain: Any, argument: str) -> None:
    """Raise for too deep nesting, NUL and lone surrogates in ``plain`` JSON data."""
    pending: list[tuple[Any, str, int]] = [(plain, argument, 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, dict):
            if depth >= MAX_DATA_DEPTH:
                raise _too_deep(argument)
            for key, item in value.items():
                item_path = "%s[%r]" % (path, key)
                _check_json_string(key, item_path)
                pending.append((item, item_path, depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_DATA_DEPTH:
                raise _too_deep(argument)
            pending.extend(
                (item, "%s[%d]" % (path, index), depth + 1)
                for index, item in enumerate(value)
            )
        elif isinstance(value, str):
            _check_json_string(value, path)


def _check_json_string(value: str, path: str) -> None:
    if "\x00" in value:
        raise InvalidInput(
            path,
            gettext(
                "%(argument)s contains a NUL character, which the database cannot "
                "store."
            )
            % {"argument": path},
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            path,
            gettext(
                "%(argument)s is not valid Unicode text: it contains a lone "
                "surrogate (U+%(code)04X)."
            )
            % {"argument": path, "code": ord(value[exc.start])},
        ) from None


def plain_json(value: Any) -> Any:
    """Anything as JSON data any database stores, never raising: for data from
    outside (a provider's raw webhook event).

    Dicts and lists are kept (a ``QueryDict`` becomes a dict, tuples lists);
    strings lose NUL characters and lone surrogates become U+FFFD; NaN and
    infinities become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
    dates and decimals become text as ``DjangoJSONEncoder`` writes them, other
    objects their ``str()``. Deeper than :data:`MAX_DATA_DEPTH` levels, the rest
    is kept as text.
    """
    if hasattr(value, "lists"):  # QueryDict (form-encoded webhooks)
        value = {
            key: values if len(values) > 1 else values[0]
            for key, values in value.lists()
        }
    return _plain(value, 0)


def _plain(value: Any, depth: int) -> Any:
    # Recursion is bounded by MAX_DATA_DEPTH, far below Python's limit.
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, str):
        return clean_text(value, len(value))
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DATA_DEPTH:
        return clean_text(value, MAX_DATA_SIZE)
    if isinstance(value, dict):
        return {
            clean_text(key, MAX_DATA_SIZE): _plain(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    try:
        encoded = DjangoJSONEncoder().default(value)
    except TypeError:
        encoded = value
    return clean_text(encoded, MAX_DATA_SIZE)


# Shipments ----------------------------------------------------------------------------


def shipment_fields(values: Any, argument: str = "") -> dict[str, Any]:
    """Checked shipment fields (:data:`SHIPMENT_FIELDS`), each with its default.

    Text is checked against the :class:`~order_updates.models.Shipment` column
    (its length, and for ``tracking_url`` that it is a link); ``None`` is ``""``.
    ``argument`` prefixes the names in errors (``"shipments[17]."``).
    """
    if not isinstance(values, Mapping):
        raise InvalidInputType(
            argument.rstrip(".") or "fields",
            gettext("Shipment fields must be a dict, not %(type)s.")
            % {"type": type_name(values)},
        )
    unknown = sorted(str(name) for name in set(values) - set(SHIPMENT_FIELDS))
    if unknown:
        raise InvalidInputType(
            argument.rstrip(".") or "fields",
            gettext("Unknown shipment fields %(unknown)s; known: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(SHIPMENT_FIELDS)},
        )
    cleaned: dict[str, Any] = {}
    for name in _SHIPMENT_TEXT:
        field = Shipment._meta.get_field(name)
        assert isinstance(field, models.Field)
        path = argument + name
        value = text(values.get(name), path, max_length=field.max_length)
        if value:
            try:
                field.run_validators(value)
            except ValidationError as exc:
                raise InvalidInput(
                    path,
                    gettext("%(argument)s: %(errors)s")
                    % {"argument": path, "errors": " ".join(exc.messages)},
                ) from None
        cleaned[name] = value
    cleaned["shipped_at"] = shipped_at = moment(
        values.get("shipped_at"), argument + "shipped_at"
    )
    if shipped_at is not None and shipped_at > _now() + SHIPPED_AT_LEEWAY:
        # A parcel that has left has a time that has passed: a later one is a
        # typo, which would show the customer a shipping date still to come.
        raise InvalidInput(
            argument + "shipped_at",
            gettext("%(argument)s is in the future: when did the parcel leave?")
            % {"argument": argument + "shipped_at"},
        )
    cleaned["more_tracking_numbers"] = tracking_numbers(
        values.get("more_tracking_numbers"), argument + "more_tracking_numbers"
    )
    return cleaned


#: How far ahead of this server's clock a shipping time may be (other clocks).
SHIPPED_AT_LEEWAY = datetime.timedelta(minutes=15)


def _now() -> datetime.datetime:
    return timezone.now() if settings.USE_TZ else datetime.datetime.now()


def tracking_numbers(value: Any, argument: str) -> list[str]:
    """Further tracking numbers: a list of non-empty strings, each once."""
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInputType(
            argument,
            gettext("%(argument)s must be a list of tracking numbers, not %(type)s.")
            % {"argument": argument, "type": type_name(value)},
        )
    numbers: list[str] = []
    for index, item in enumerate(value):
        number = text(item, "%s[%d]" % (argument, index), max_length=100)
        if not number:
            raise InvalidInput(
                argument, gettext("%s: a tracking number is empty.") % argument
            )
        if number not in numbers:
            numbers.append(number)
    return numbers


def shipment_items(
    value: Any, lines: Mapping[str, int], shipped: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Checked shipment ``items``: ``[{"line": key, "quantity": n}]`` where each
    key is one of the order's ``lines`` (key → quantity ordered) and ``n`` at
    most what remains after the ``shipped`` quantities.
    """
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInputType(
            "items",
            gettext(
                "items must be a list of {'line': ..., 'quantity': ...} dicts, not %s."
            )
            % type_name(value),
        )
    cleaned: dict[str, int] = {}
    for index, item in enumerate(value):
        path = "items[%d]" % index
        if not isinstance(item, Mapping) or set(item) - {"line", "quantity"}:
            raise InvalidInputType(
                path,
                gettext("%s must be a dict with 'line' and 'quantity'.") % path,
            )
        line = str(item.get("line", ""))
        if line not in lines:
            raise InvalidInput(
                path,
                gettext(
                    "%(path)s: the order has no line %(line)r (its lines: %(lines)s)."
                )
                % {"path": path, "line": line, "lines": ", ".join(lines) or "none"},
            )
        quantity = positive_int(item.get("quantity", 1), path + ".quantity")
        if not quantity:
            raise InvalidInput(
                path, gettext("%s: the quantity must be at least 1.") % path
            )
        cleaned[line] = cleaned.get(line, 0) + quantity
        remaining = lines[line] - shipped.get(line, 0)
        if cleaned[line] > remaining:
            raise InvalidInput(
                path,
                gettext("%(path)s: only %(remaining)d of line %(line)s remain to ship.")
                % {"path": path, "remaining": remaining, "line": line},
            )
    return [{"line": line, "quantity": n} for line, n in cleaned.items()]


# All of them --------------------------------------------------------------------------


def arguments(**values: Any) -> tuple[Any, ...]:
    """Check the services' common keyword arguments; return them, cleaned, in the
    order given::

        actor, message, notify = validation.arguments(
            actor=actor, message=message, notify=notify
        )

    Each name has one rule (:data:`RULES`): ``order``, ``actor``, ``message``
    and ``note`` (text up to ``MAX_MESSAGE_LENGTH``), ``notify``/``force``/
    ``public`` (bools), ``data`` (JSON), ``at`` (a datetime).
    """
    return tuple(RULES[name](value, name) for name, value in values.items())


#: The rule each common argument of the services is checked by.
RULES: dict[str, Callable[[Any, str], Any]] = {
    "order": order,
    "actor": actor,
    "message": text,
    "note": text,
    "notify": flag,
    "force": flag,
    "public": flag,
    "data": data,
    "at": moment,
}
