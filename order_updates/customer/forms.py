"""The lookup form: order number plus the order's email address or postcode."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LookupForm(forms.Form):
    """What a guest types to find their order; both fields are required."""

    number = forms.CharField(
        label=_("Order number"),
        max_length=64,
        help_text=_("As written in your order confirmation."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    secret = forms.CharField(
        label=_("Email address or delivery postcode"),
        max_length=254,
        help_text=_("The email address you ordered with, or your delivery postcode."),
        widget=forms.TextInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip()

    def clean_secret(self) -> str:
        return self.cleaned_data["secret"].strip()
