"""The carrier registry: code, translated name, tracking link, number patterns.

:data:`BUILTIN_CARRIERS` covers the major carriers; ``ORDER_UPDATES["CARRIERS"]``
adds carriers, overrides fields of built-in ones, or removes them (``None``)::

    ORDER_UPDATES = {
        "CARRIERS": {
            # A carrier of your own: only the name is required.
            "bring": {
                "name": "Bring",
                "tracking_url": "https://tracking.bring.com/tracking/{number}",
                "patterns": [r"\\d{8}"],
                "stuck_after_days": 7,
            },
            # Change a built-in carrier.
            "ups": {"transit_days": {"": [3, 5], "express": 1}},
            "inpost": None,  # never offered, never detected
        },
    }

Read it with :func:`get_carriers` / :func:`get_carrier`; :func:`carrier_name`
and :func:`tracking_link` are what messages and pages show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from order_updates.carriers import checkdigits
from order_updates.conf import RELOAD_HOOKS, app_settings, perform_import, setting_name
from order_updates.exceptions import OrderUpdatesConfigurationError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Characters people type between the groups of a number ("1Z 999 AA1…").
_SEPARATORS = re.compile(r"[\s\-./]+")


def normalize_number(number: str) -> str:
    """A tracking number as carriers compare it: upper case, no separators."""
    return _SEPARATORS.sub("", str(number or "")).upper()


@dataclass(frozen=True)
class NumberPattern:
    """A shape of a carrier's tracking numbers.

    ``regex`` must match the whole normalized number. ``check`` (one of
    :mod:`order_updates.carriers.checkdigits`, or any ``callable(str) -> bool``)
    validates its check digit, over the regex's named group ``check`` when it has
    one (else over the whole number). A pattern is *distinctive* when its shape
    alone points at one carrier (a prefix such as ``1Z`` or ``TBA``).
    """

    regex: str
    check: Callable[[str], bool] | None = None
    distinctive: bool = False
    #: The service this shape means ("express", "ground"…), if any.
    service: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.regex))

    def matches(self, number: str) -> bool | None:
        """None if the shape does not match; else whether the check digit holds
        (True for a pattern without one).
        """
        match = self._compiled.fullmatch(number)  # type: ignore[attr-defined]
        if match is None:
            return None
        if self.check is None:
            return True
        checked = match.groupdict().get("check") or number
        return bool(self.check(checked))

    @property
    def strong(self) -> bool:
        """Whether a match is strong evidence (a check digit or a distinctive shape)."""
        return self.check is not None or self.distinctive


@dataclass(frozen=True)
class Carrier:
    """A carrier: what messages show and how to recognise its numbers."""

    code: str
    name: StrOrPromise
    #: Link to the carrier's tracking page: ``{number}`` is replaced by the
    #: URL-quoted tracking number, ``{language}`` by the entry of
    #: ``url_languages`` for the language the link is shown in.
    tracking_url: str = ""
    patterns: tuple[NumberPattern, ...] = ()
    #: Default transit time in days by service ("" for any service): a number,
    #: or a ``(fastest, slowest)`` pair; used when nobody gives an estimate.
    transit_days: Mapping[str, Any] = field(default_factory=dict)
    #: Days without a scan after which a shipment counts as stuck (None: the
    #: STUCK_AFTER_DAYS setting).
    stuck_after_days: int | None = None
    #: What ``{language}`` in ``tracking_url`` becomes, by Django language code
    #: ("de", or "de-at" for one variant); "" is for every other language.
    url_languages: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.name)

    def tracking_link(self, number: str, language: str | None = None) -> str:
        """The carrier's tracking page for ``number`` ('' without a template),
        in ``language`` (default: the active one) where the carrier's site has it.
        """
        if not self.tracking_url or not number:
            return ""
        url = self.tracking_url.replace("{number}", quote(str(number), safe=""))
        if "{language}" in url:
            url = url.replace("{language}", self.url_language(language))
        return url

    def url_language(self, language: str | None = None) -> str:
        """The carrier site's code for ``language``: the entry for the exact
        code, else for its base language ("de" for "de-at"), else ``""``'s.
        """
        code = (language or get_language() or settings.LANGUAGE_CODE).lower()
        languages = self.url_languages
        if code in languages:
            return languages[code]
        return languages.get(code.split("-")[0], languages.get("", ""))

    def transit_window(self, service: str = "") -> tuple[int, int] | None:
        """Default (fastest, slowest) transit days for ``service``, or None."""
        value = self.transit_days.get(service, self.transit_days.get(""))
        if value is None:
            return default_transit_window()
        return transit_window(value, setting_name("CARRIERS", self.code))


def transit_window(value: Any, name: str) -> tuple[int, int]:
    """``(fastest, slowest)`` days from a number or a pair; raises naming ``name``."""
    pair = value if isinstance(value, (list, tuple)) else (value, value)
    if (
        len(pair) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
        or not 0 <= pair[0] <= pair[1]
    ):
        raise OrderUpdatesConfigurationError(
            "%s: transit days must be a whole number of days or a [fastest, "
            "slowest] pair, not %r." % (name, value)
        )
    return int(pair[0]), int(pair[1])


def default_transit_window() -> tuple[int, int] | None:
    """DEFAULT_TRANSIT_DAYS as ``(fastest, slowest)``, or None when unset."""
    value = app_settings.DEFAULT_TRANSIT_DAYS
    if value is None:
        return None
    return transit_window(value, setting_name("DEFAULT_TRANSIT_DAYS"))


def _s10(country: str) -> NumberPattern:
    """The UPU S10 numbers a postal operator gives (``RR123456785GB``)."""
    return NumberPattern(r"[A-Z]{2}\d{9}%s" % country, check=checkdigits.s10)


def _p(regex: str, check: Callable[[str], bool] | None = None, **kw) -> NumberPattern:
    return NumberPattern(regex, check=check, **kw)


#: dhl.com's site for each language: country and language.
_DHL_LANGUAGES = {"": "global-en", "de": "de-de", "fr": "fr-fr"}

#: The carriers order_updates knows out of the box.
BUILTIN_CARRIERS: tuple[Carrier, ...] = (
    Carrier(
        "ups",
        _("UPS"),
        "https://www.ups.com/track?loc={language}&tracknum={number}",
        (_p(r"1Z[0-9A-Z]{16}", checkdigits.ups, distinctive=True),),
        url_languages={
            "": "en_US",
            "en-gb": "en_GB",
            "de": "de_DE",
            "fr": "fr_FR",
            "es": "es_ES",
            "it": "it_IT",
            "nl": "nl_NL",
        },
    ),
    Carrier(
        "usps",
        _("USPS"),
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
        (
            _p(r"9[1-5]\d{20}", checkdigits.mod10_3_1),
            _p(r"9[1-5]\d{24}", checkdigits.mod10_3_1),
            _p(r"420\d{5}(?P<check>9[1-5]\d{20})", checkdigits.mod10_3_1),
            _p(r"\d{20}", checkdigits.mod10_3_1),
            _s10("US"),
        ),
    ),
    Carrier(
        "fedex",
        _("FedEx"),
        "https://www.fedex.com/fedextrack/?trknbr={number}",
        (
            _p(r"\d{12}", checkdigits.fedex_express, service="express"),
            _p(r"\d{15}", checkdigits.mod10_3_1, service="ground"),
            _p(r"96\d{5}(?P<check>\d{15})", checkdigits.mod10_3_1, service="ground"),
        ),
    ),
    Carrier(
        "dhl_express",
        _("DHL Express"),
        "https://www.dhl.com/{language}/home/tracking/tracking-express.html"
        "?submit=1&tracking-id={number}",
        (
            _p(r"\d{10,11}", checkdigits.mod7),
            _p(r"J[A-Z]{2,3}\d{9,10}", distinctive=True),
        ),
        url_languages=_DHL_LANGUAGES,
    ),
    # DHL's divisions share one tracking page; numbers say which one (above, below).
    Carrier(
        "dhl",
        _("DHL"),
        "https://www.dhl.com/{language}/home/tracking.html?tracking-id={number}",
        url_languages=_DHL_LANGUAGES,
    ),
    Carrier(
        "dhl_paket",
        _("DHL Paket"),
        "https://www.dhl.de/{language}/privatkunden/pakete-empfangen/verfolgen.html"
        "?piececode={number}",
        (
            _p(r"00340434\d{12}", checkdigits.mod10_3_1),
            _p(r"\d{12}"),
        ),
        # dhl.de speaks German and English.
        url_languages={"": "en", "de": "de"},
    ),
    Carrier(
        "deutsche_post",
        _("Deutsche Post"),
        "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={number}",
        (_s10("DE"),),
    ),
    Carrier(
        "royal_mail",
        _("Royal Mail"),
        "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
        (_s10("GB"),),
    ),
    Carrier(
        "evri",
        _("Evri"),
        "https://www.evri.com/track/parcel/{number}/details",
        (_p(r"H[0-9A-Z]{15}"), _p(r"\d{16}")),
    ),
    Carrier(
        "dpd",
        _("DPD"),
        "https://tracking.dpd.de/status/{language}/parcel/{number}",
        (_p(r"\d{27}[0-9A-Z]", checkdigits.iso7064_mod37_36), _p(r"\d{14}")),
        url_languages={"": "en_US", "de": "de_DE", "fr": "fr_FR", "nl": "nl_NL"},
    ),
    Carrier(
        "gls",
        _("GLS"),
        "https://gls-group.com/track/{number}",
        (_p(r"\d{11,12}"),),
    ),
    Carrier(
        "postnl",
        _("PostNL"),
        "https://jouw.postnl.nl/track-and-trace/{number}",
        (_p(r"3S[A-Z]{4}\d{6,9}", distinctive=True), _s10("NL")),
    ),
    Carrier(
        "canada_post",
        _("Canada Post"),
        "https://www.canadapost-postescanada.ca/track-reperage/{language}#/search"
        "?searchFor={number}",
        (_p(r"\d{16}"), _s10("CA")),
        url_languages={"": "en", "fr": "fr"},
    ),
    Carrier(
        "australia_post",
        _("Australia Post"),
        "https://auspost.com.au/mypost/track/details/{number}",
        (_s10("AU"),),
    ),
    Carrier(
        "la_poste",
        _("La Poste"),
        "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
        (_s10("FR"),),
    ),
    Carrier(
        "colissimo",
        _("Colissimo"),
        "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
        (_p(r"\d[A-Z]\d{11}"),),
    ),
    Carrier(
        "amazon_logistics",
        _("Amazon Logistics"),
        "https://track.amazon.com/tracking/{number}",
        (_p(r"TBA\d{12}", distinctive=True),),
    ),
    Carrier(
        "poste_italiane",
        _("Poste Italiane"),
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{number}",
        (_s10("IT"),),
    ),
    Carrier(
        "correos",
        _("Correos"),
        "https://www.correos.es/es/es/herramientas/localizador/envios/detalle"
        "?tracking-number={number}",
        (_p(r"P[QK][0-9A-Z]{21}"), _s10("ES")),
    ),
    Carrier(
        "inpost",
        _("InPost"),
        "https://inpost.pl/sledzenie-przesylek?number={number}",
        (_p(r"\d{24}"),),
    ),
    Carrier(
        "japan_post",
        _("Japan Post"),
        "https://trackings.post.japanpost.jp/services/srv/search/direct"
        "?reqCodeNo1={number}&locale={language}",
        (_p(r"\d{12}", checkdigits.mod7), _s10("JP")),
        url_languages={"": "en", "ja": "ja"},
    ),
    Carrier(
        "china_post",
        _("China Post / EMS"),
        "https://www.ems.com.cn/queryList?mailNum={number}",
        (_s10("CN"),),
    ),
)

#: Keys a carrier's entry in ORDER_UPDATES["CARRIERS"] may have.
CARRIER_KEYS = frozenset(f.name for f in fields(Carrier)) - {"code"}
_CODE = re.compile(r"^[a-z0-9_]{1,50}$")


def _pattern(value: Any, name: str) -> NumberPattern:
    """A pattern from settings: a regex string, or a dict of NumberPattern's fields."""
    if isinstance(value, NumberPattern):
        return value
    if isinstance(value, str):
        value = {"regex": value}
    if not isinstance(value, Mapping) or "regex" not in value:
        raise OrderUpdatesConfigurationError(
            "%s must be a regex string or a dict with a 'regex' key, not %r."
            % (name, value)
        )
    options = dict(value)
    check = options.get("check")
    if isinstance(check, str):
        options["check"] = perform_import(check, name + "['check']")
    if options.get("check") is not None and not callable(options["check"]):
        raise OrderUpdatesConfigurationError(
            "%s['check'] must be a callable or a dotted path to one." % name
        )
    try:
        return NumberPattern(**options)
    except TypeError as exc:
        raise OrderUpdatesConfigurationError("%s: %s" % (name, exc)) from exc
    except re.error as exc:
        raise OrderUpdatesConfigurationError(
            "%s['regex'] is not a valid regular expression: %s" % (name, exc)
        ) from exc


def _url_languages(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(code, str) for key, code in value.items()
    ):
        raise OrderUpdatesConfigurationError(
            "%s['url_languages'] must be a dict of language code -> the carrier "
            "site's code for it, not %r." % (name, value)
        )
    return {key.lower(): code for key, code in value.items()}


def _carrier(code: str, value: Any, base: Carrier | None) -> Carrier:
    name = setting_name("CARRIERS", code)
    if not isinstance(code, str) or not _CODE.match(code):
        raise OrderUpdatesConfigurationError(
            "%s: a carrier code is 1 to 50 lowercase letters, digits or underscores."
            % name
        )
    if not isinstance(value, Mapping):
        raise OrderUpdatesConfigurationError(
            "%s must be a dict of the carrier's fields (%s) or None, not %r."
            % (name, ", ".join(sorted(CARRIER_KEYS)), value)
        )
    unknown = sorted(set(value) - CARRIER_KEYS)
    if unknown:
        raise OrderUpdatesConfigurationError(
            "%s has unknown keys (%s); a carrier has: %s."
            % (name, ", ".join(map(str, unknown)), ", ".join(sorted(CARRIER_KEYS)))
        )
    options = dict(value)
    if "patterns" in options:
        options["patterns"] = tuple(
            _pattern(item, "%s['patterns'][%d]" % (name, index))
            for index, item in enumerate(options["patterns"] or ())
        )
    transit = options.get("transit_days")
    if transit is not None:
        if not isinstance(transit, Mapping):
            raise OrderUpdatesConfigurationError(
                "%s['transit_days'] must be a dict of service -> days ('' for any "
                "service), not %r." % (name, transit)
            )
        for service, days in transit.items():
            transit_window(days, "%s['transit_days'][%r]" % (name, service))
    stuck = options.get("stuck_after_days")
    if stuck is not None and (
        isinstance(stuck, bool) or not isinstance(stuck, int) or stuck < 1
    ):
        raise OrderUpdatesConfigurationError(
            "%s['stuck_after_days'] must be a whole number of days, at least 1." % name
        )
    tracking_url = options.get("tracking_url")
    if tracking_url and "{number}" not in tracking_url:
        raise OrderUpdatesConfigurationError(
            "%s['tracking_url'] must contain {number}, where the tracking number "
            "goes." % name
        )
    if "url_languages" in options:
        options["url_languages"] = _url_languages(options["url_languages"], name)
    if tracking_url is None and base is not None:
        tracking_url = base.tracking_url
    languages = options.get("url_languages", base.url_languages if base else {})
    if tracking_url and "{language}" in tracking_url and "" not in languages:
        raise OrderUpdatesConfigurationError(
            "%s['tracking_url'] contains {language}: give 'url_languages', a dict "
            "of language code -> the site's code for it, with a '' entry for every "
            "other language, e.g. {'': 'en', 'de': 'de'}." % name
        )
    if base is None:
        if not options.get("name"):
            raise OrderUpdatesConfigurationError(
                "%s['name'] is missing: a new carrier needs a name." % name
            )
        return Carrier(code=code, **options)
    return replace(base, **options)


@cache
def get_carriers() -> dict[str, Carrier]:
    """Every carrier by code: the built-in ones with settings applied, in order."""
    carriers = {carrier.code: carrier for carrier in BUILTIN_CARRIERS}
    configured = app_settings.CARRIERS
    if not isinstance(configured, Mapping):
        raise OrderUpdatesConfigurationError(
            "%s must be a dict of carrier code -> fields, not %r."
            % (setting_name("CARRIERS"), configured)
        )
    for code, value in configured.items():
        if value is None:
            carriers.pop(code, None)
        else:
            carriers[code] = _carrier(code, value, carriers.get(code))
    return carriers


def get_carrier(code: str) -> Carrier | None:
    """The carrier with this code, or None."""
    return get_carriers().get(code or "")


def carrier_name(code: str, name: str = "") -> str:
    """A carrier's name for people, in the active language.

    A registry code gives its translated name; otherwise the free-text ``name``
    a shop typed for an unknown carrier, else the code as given.
    """
    carrier = get_carrier((code or "").strip())
    if carrier is not None:
        return str(carrier.name)
    return (name or code or "").strip()


def tracking_link(code: str, number: str, url: str = "") -> str:
    """The link to follow a parcel: ``url`` when given, else the carrier's
    template filled with ``number`` ('' when neither exists).
    """
    if url:
        return url
    carrier = get_carrier(code)
    return carrier.tracking_link(number) if carrier else ""


def choices() -> list[tuple[str, str]]:
    """``(code, name)`` pairs for form fields, sorted by name in the active language."""
    return sorted(
        ((code, str(carrier.name)) for code, carrier in get_carriers().items()),
        key=lambda pair: pair[1].casefold(),
    )


RELOAD_HOOKS.append(get_carriers.cache_clear)
