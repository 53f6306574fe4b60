from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Order


class CheckoutForm(forms.ModelForm):
    """Where to send the order, and how to reach the customer."""

    sms_updates = forms.BooleanField(
        label=_("Text me delivery updates"),
        required=False,
        help_text=_("Needs a phone number. You can stop them from any message."),
    )

    class Meta:
        model = Order
        fields = [
            "shipping_name",
            "shipping_line1",
            "shipping_postcode",
            "shipping_city",
            "shipping_country",
            "email",
            "phone",
        ]
        labels = {
            "shipping_name": _("Full name"),
            "shipping_line1": _("Street and number"),
            "shipping_postcode": _("Postcode"),
            "shipping_city": _("City"),
            "shipping_country": _("Country code"),
            "email": _("Email"),
            "phone": _("Phone (optional, for delivery text messages)"),
        }
        help_texts = {"phone": _("International format, e.g. +49 30 1234567.")}
        widgets = {
            "shipping_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "shipping_line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "shipping_postcode": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "shipping_city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "shipping_country": forms.TextInput(attrs={"autocomplete": "country"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("sms_updates") and not cleaned.get("phone"):
            self.add_error("phone", _("Enter a phone number to get text messages."))
        return cleaned
