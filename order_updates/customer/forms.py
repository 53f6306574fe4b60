"""The lookup form: order number plus the order's email address (or postcode)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class LookupForm(forms.Form):
    """What a guest types to find their order; both fields are required.

    ``postcode``: whether the second field may be the delivery postcode (the
    adapter's ``has_postcode()``); without it, it asks for the email address
    only.
    """

    number = forms.CharField(
        label=_("Order number"),
        max_length=64,
        help_text=_("As written in your order confirmation."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    secret = forms.CharField(
        label=_("Email address"),
        max_length=254,
        help_text=_("The email address you ordered with."),
        # Not an EmailField: whatever is typed gets the same "not found" answer.
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, postcode: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.postcode = postcode
        if postcode:
            self.fields["secret"] = forms.CharField(
                label=_("Email address or delivery postcode"),
                max_length=254,
                help_text=_(
                    "The email address you ordered with, or your delivery postcode."
                ),
                widget=forms.TextInput(
                    attrs={"autocomplete": "email", "spellcheck": "false"}
                ),
            )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip()

    def clean_secret(self) -> str:
        return self.cleaned_data["secret"].strip()
