"""Forms of the customer pages."""

from __future__ import annotations

import os
import unicodedata
import zoneinfo
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, cast

from babel import UnknownLocaleError
from babel.dates import get_timezone_location
from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.text import capfirst, format_lazy, get_text_list
from django.utils.translation import gettext_lazy as _

from order_updates.conf import app_settings
from order_updates.models import NotificationPreference
from order_updates.notifications.channels import get_channels
from order_updates.notifications.preferences import save_choices, wanted_channels
from order_updates.notifications.types import CATEGORIES

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


#: The regions a time zone is chosen in; the list leaves out the legacy and
#: technical names ("US/Eastern", "Etc/GMT+5", "Factory", "localtime"…).
TIMEZONE_REGIONS = {
    "Africa": _("Africa"),
    "America": _("Americas"),
    "Antarctica": _("Antarctica"),
    "Arctic": _("Arctic"),
    "Asia": _("Asia"),
    "Atlantic": _("Atlantic Ocean"),
    "Australia": _("Australia"),
    "Europe": _("Europe"),
    "Indian": _("Indian Ocean"),
    "Pacific": _("Pacific Ocean"),
}


def _zone_label(name: str) -> str:
    """ "America/Argentina/Buenos_Aires" → "Argentina – Buenos Aires"."""
    return " – ".join(part.replace("_", " ") for part in name.split("/")[1:])


def _read_zone_tab() -> str | None:
    """The tz database's ``zone.tab``, where ``zoneinfo`` finds its zones (the
    system's, else the tzdata package's); None if there is none.
    """
    for directory in zoneinfo.TZPATH:
        try:
            with open(os.path.join(directory, "zone.tab"), encoding="utf-8") as tab:
                return tab.read()
        except OSError:
            continue
    try:
        return files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    except (ImportError, OSError):
        return None


def canonical_zones() -> set[str] | None:
    """The zones of ``zone.tab``: one name per zone, without the backward
    aliases ("America/Buenos_Aires" of "America/Argentina/Buenos_Aires",
    "Asia/Calcutta", "Europe/Kiev"…); None if the file cannot be found.
    """
    text = _read_zone_tab()
    if text is None:
        return None
    names = set()
    for line in text.splitlines():
        columns = line.split("\t")
        if line and not line.startswith("#") and len(columns) >= 3:
            names.add(columns[2].strip())
    return names


def _city(name: str, language: str) -> str | None:
    """The zone's city in ``language`` ("Europe/Vienna" → "Wien" in German), from
    the CLDR data Babel has; None if it has none."""
    try:
        return get_timezone_location(
            name, locale=translation.to_locale(language), return_city=True
        )
    except (LookupError, ValueError, UnknownLocaleError):
        return None


def _sort_key(label: str) -> str:
    """Accents and case aside, so that "Österreich" sorts among the O's."""
    plain = unicodedata.normalize("NFKD", label)
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()


@cache
def _zones_by_region(language: str) -> dict[str, list[tuple[str, str]]]:
    regions: dict[str, list[tuple[str, str]]] = {key: [] for key in TIMEZONE_REGIONS}
    available = zoneinfo.available_timezones()
    canonical = canonical_zones()
    names = sorted(available & canonical if canonical else available)
    labels: set[str] = set()
    for name in names:
        region, _sep, rest = name.partition("/")
        last = rest.rsplit("/", 1)[-1]
        # Without zone.tab: "Australia/NSW" and the like are legacy aliases of
        # the city names, and of a city in two regions ("Asia/Istanbul",
        # "Europe/Istanbul") the first is kept: no two options read the same.
        if region not in regions or not rest or (last.isupper() and len(last) > 1):
            continue
        label = _city(name, language) or _zone_label(name)
        if label in labels:  # two zones, one city name: the zone's own words
            label = _zone_label(name)
        if label not in labels:
            labels.add(label)
            regions[region].append((name, label))
    return {
        key: sorted(zones, key=lambda zone: _sort_key(zone[1]))
        for key, zones in regions.items()
    }


def timezone_choices(current: str = "") -> list[tuple[Any, Any]]:
    """Time zones for a select: UTC, then one group per region, cities sorted by
    name; ``current`` (a saved legacy name) is kept as a choice of its own.
    """
    zones = _zones_by_region(translation.get_language() or settings.LANGUAGE_CODE)
    choices: list[tuple[Any, Any]] = [("UTC", "UTC")]
    known = {"UTC"} | {name for group in zones.values() for name, _label in group}
    if current and current not in known:
        choices.append((current, current.replace("_", " ")))
    for key, label in TIMEZONE_REGIONS.items():
        choices.append((label, zones[key]))
    return choices


def _labels(channels) -> StrOrPromise:
    """ "text message and browser notification": channels named in a sentence."""
    return get_text_list([str(channel.label) for channel in channels], _("and"))


def consent_message(channels) -> StrOrPromise:
    """Why channels that need consent cannot be chosen without it (the page's
    and the API's error)."""
    return format_lazy(
        _("To get updates by {channels}, please agree to receive them."),
        channels=_labels(channels),
    )


class PreferencesForm(forms.Form):
    """Channels per category, consent and time zone for one customer.

    One checkbox group per notification category (``CATEGORIES``) with one box
    per configured channel; a consent box when a configured channel
    ``requires_consent`` (SMS). Channels are named by their ``label``.
    """

    timezone = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, preference: NotificationPreference, **kwargs):
        self.preference = preference
        self.channels = list(get_channels().values())
        self.consent_channels = [c for c in self.channels if c.requires_consent]
        initial = kwargs.pop("initial", None) or {}
        for category in CATEGORIES:
            initial.setdefault(
                category, wanted_channels(preference, category, self.channels)
            )
        initial.setdefault("sms_consent", preference.sms_consent_at is not None)
        initial.setdefault("timezone", preference.timezone)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        choices = [(channel.name, capfirst(channel.label)) for channel in self.channels]
        category_fields: dict[str, forms.Field] = {}
        for category, label in CATEGORIES.items():
            category_fields[category] = forms.MultipleChoiceField(
                label=label,
                choices=choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        if self.consent_channels:
            category_fields["sms_consent"] = forms.BooleanField(
                label=format_lazy(
                    _("I agree to receive updates by {channels} about my orders."),
                    channels=_labels(self.consent_channels),
                ),
                required=False,
                help_text=_("You can withdraw this at any time on this page."),
            )
        # Categories first, then consent, then the time zone.
        self.fields = {**category_fields, **self.fields}
        timezone_field = cast(forms.ChoiceField, self.fields["timezone"])
        timezone_field.choices = [
            ("", _("The shop's time zone")),
            *timezone_choices(preference.timezone),
        ]
        waiting = [channel for channel in self.channels if channel.quiet_hours]
        if waiting and app_settings.QUIET_HOURS:
            timezone_field.help_text = format_lazy(
                _("Updates by {channels} wait until morning here."),
                channels=_labels(waiting),
            )

    def category_fields(self):
        """The bound fields of the channel checkbox groups, in category order."""
        return [self[category] for category in CATEGORIES]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        chosen = {
            name for category in CATEGORIES for name in cleaned.get(category) or []
        }
        needing = [c for c in self.consent_channels if c.name in chosen]
        if needing and not cleaned.get("sms_consent"):
            self.add_error("sms_consent", consent_message(needing))
        return cleaned

    def save(self) -> NotificationPreference:
        """Store the choices on the customer's preference (creating it)."""
        data = self.cleaned_data
        return save_choices(
            self.preference,
            channels={category: data.get(category) or [] for category in CATEGORIES},
            sms_consent=data["sms_consent"] if "sms_consent" in self.fields else None,
            timezone_name=data.get("timezone") or "",
        )
