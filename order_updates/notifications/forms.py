"""Forms of the customer pages."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any, cast

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from order_updates.conf import app_settings
from order_updates.models import NotificationPreference
from order_updates.notifications.preferences import (
    channel_label,
    save_choices,
    wanted_channels,
)
from order_updates.notifications.types import CATEGORIES


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone name, sorted (about 600)."""
    return [
        (name, name.replace("_", " "))
        for name in sorted(zoneinfo.available_timezones())
    ]


class PreferencesForm(forms.Form):
    """Channels per category, SMS consent and time zone for one customer.

    One checkbox group per notification category (``CATEGORIES``) with one box
    per configured channel; the SMS consent box only when an ``sms``
    channel is configured.
    """

    timezone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Text messages and browser notifications wait until morning here."),
    )

    def __init__(self, *args, preference: NotificationPreference, **kwargs):
        self.preference = preference
        self.channel_names = list(app_settings.CHANNELS)
        initial = kwargs.pop("initial", None) or {}
        for category in CATEGORIES:
            initial.setdefault(
                category, wanted_channels(preference, category, self.channel_names)
            )
        initial.setdefault("sms_consent", preference.sms_consent_at is not None)
        initial.setdefault("timezone", preference.timezone)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        choices = [(name, capfirst(channel_label(name))) for name in self.channel_names]
        category_fields: dict[str, forms.Field] = {}
        for category, label in CATEGORIES.items():
            category_fields[category] = forms.MultipleChoiceField(
                label=label,
                choices=choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        if "sms" in self.channel_names:
            category_fields["sms_consent"] = forms.BooleanField(
                label=_("I agree to receive text messages about my orders."),
                required=False,
                help_text=_("You can withdraw this at any time on this page."),
            )
        # Categories first, then consent, then the time zone.
        self.fields = {**category_fields, **self.fields}
        cast(forms.ChoiceField, self.fields["timezone"]).choices = [
            ("", _("The shop's time zone")),
            *timezone_choices(),
        ]

    def category_fields(self):
        """The bound fields of the channel checkbox groups, in category order."""
        return [self[category] for category in CATEGORIES]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        wants_sms = any(
            "sms" in (cleaned.get(category) or []) for category in CATEGORIES
        )
        if wants_sms and "sms_consent" in self.fields and not cleaned["sms_consent"]:
            self.add_error(
                "sms_consent",
                _("To get text messages, please agree to receive them."),
            )
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
