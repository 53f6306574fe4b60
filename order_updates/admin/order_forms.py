"""The forms of the order screens: status change (one order, many), shipment, note.

They only collect and check input; the views hand it to
:mod:`order_updates.services`, which validate again, write the timeline and
queue the notifications.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin import widgets
from django.contrib.admin.options import FORMFIELD_FOR_DBFIELD_DEFAULTS
from django.db import models
from django.utils.translation import gettext_lazy as _

from order_updates.carriers import registry as carrier_registry
from order_updates.core import validation
from order_updates.core.shipments import UPDATABLE_FIELDS as SHIPMENT_FIELDS
from order_updates.exceptions import InvalidInput
from order_updates.models import Shipment
from order_updates.pipeline import get_pipeline


def _message_field() -> forms.CharField:
    return forms.CharField(
        label=_("Message to the customer"),
        required=False,
        max_length=validation.max_message_length(),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. Shown to the customer and included in the message."),
    )


def _note_field() -> forms.CharField:
    return forms.CharField(
        label=_("Internal note"),
        required=False,
        max_length=validation.max_message_length(),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional. Only staff see it, in the timeline."),
    )


def _notify_field() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("Notify the customer"),
        required=False,
        initial=True,
        help_text=_("Send the customer a message about this change."),
    )


def _transition_choices(current: str) -> list[tuple[str, Any]]:
    pipeline = get_pipeline()
    return [
        (code, pipeline.get(code).label)
        for code in pipeline.allowed_from(current)
        if code in pipeline
    ]


class StatusChangeForm(forms.Form):
    """Move one order on: only the statuses the pipeline allows from ``current``."""

    status = forms.ChoiceField(label=_("New status"))
    #: The status the choices were offered for: a change made by someone else in
    #: the meantime is caught instead of applied on a stale view.
    current = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, current_status: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_status = current_status
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = _transition_choices(current_status)
        self.fields["current"].initial = current_status
        self.fields["message"] = _message_field()
        self.fields["note"] = _note_field()
        self.fields["notify"] = _notify_field()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("current", self.current_status) != self.current_status:
            raise forms.ValidationError(
                _(
                    "Someone changed this order's status to “%(status)s” in the "
                    "meantime: check the change again."
                ),
                params={
                    "status": get_pipeline().get_or_retired(self.current_status).label
                },
                code="stale",
            )
        return cleaned


class BulkStatusForm(forms.Form):
    """Set any status on many orders; the pipeline decides which ones move."""

    status = forms.ChoiceField(label=_("New status"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = get_pipeline().choices()
        self.fields["message"] = _message_field()
        self.fields["note"] = _note_field()
        self.fields["notify"] = _notify_field()


def shipment_form_fields() -> dict[str, forms.Field]:
    """Form fields for what :func:`~order_updates.services.update_shipment` may
    change, as the
    admin would build them from the :class:`~order_updates.models.Shipment`
    columns (admin widgets, the columns' lengths and validators).
    """
    fields = {}
    for name in SHIPMENT_FIELDS:
        column = Shipment._meta.get_field(name)
        assert isinstance(column, models.Field)
        overrides = dict(FORMFIELD_FOR_DBFIELD_DEFAULTS.get(type(column), {}))
        if isinstance(column, models.URLField):
            overrides["assume_scheme"] = "https"
        field = column.formfield(**overrides)
        assert field is not None
        fields[name] = field
    return fields


#: The carrier choice for a carrier the registry does not know.
OTHER_CARRIER = "_other"


def carrier_choices(current: str = "") -> list[tuple[str, Any]]:
    """The registry's carriers by translated name, then "Other carrier"; a
    ``current`` code no longer in the registry stays choosable as it is.
    """
    known = carrier_registry.choices()
    if current and current not in dict(known):
        known.append((current, current))
    return [
        ("", _("(no carrier)")),
        *known,
        (OTHER_CARRIER, _("Other carrier (type its name)")),
    ]


class ShipmentForm(forms.Form):
    """A shipment's details, to add one or correct one; the one shipment form.

    Adding one may also move the order (usually to "shipped"): the choices are
    the statuses the pipeline allows from ``current_status``. It also takes the
    further tracking numbers and, with ``lines`` (line key → (name, quantity
    ordered)), how many of each line the parcel holds.
    """

    def __init__(
        self,
        *args: Any,
        current_status: str | None = None,
        lines: dict[str, tuple[str, int]] | None = None,
        adding: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.adding = adding
        self.lines = lines or {}
        fields = shipment_form_fields()
        self.fields["carrier"] = forms.ChoiceField(
            label=_("Carrier"),
            required=False,
            choices=carrier_choices(self.initial.get("carrier", "")),
        )
        self.fields["carrier_name"] = fields.pop("carrier_name")
        self.fields["carrier_name"].help_text = _(
            "Only for “Other carrier”: its name as customers know it."
        )
        fields.pop("carrier")
        for name, field in fields.items():
            self.fields[name] = field
            if name == "tracking_number":
                self.fields["more_tracking_numbers"] = forms.CharField(
                    label=_("Further tracking numbers"),
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                    help_text=_(
                        "One per line, for the other parcels of this shipment."
                    ),
                )
        for key, (name, quantity) in self.lines.items():
            self.fields[self.item_field(key)] = forms.IntegerField(
                label=name,
                required=False,
                min_value=0,
                max_value=quantity,
                help_text=_("of %(quantity)d ordered") % {"quantity": quantity},
                widget=forms.NumberInput(attrs={"class": "vIntegerField"}),
            )
        self.fields["estimated_earliest"] = forms.DateField(
            label=_("Estimated delivery"),
            required=False,
            widget=widgets.AdminDateWidget,
            help_text=_("The expected delivery date, or the first day of a window."),
        )
        self.fields["estimated_latest"] = forms.DateField(
            label=_("Latest delivery"),
            required=False,
            widget=widgets.AdminDateWidget,
            help_text=_("Optional: the last day of the window."),
        )
        if current_status is not None:
            self.fields["status"] = forms.ChoiceField(
                label=_("Also change the status to"),
                required=False,
                choices=[
                    ("", _("(keep the current status)")),
                    *_transition_choices(current_status),
                ],
            )
        self.fields["message"] = _message_field()
        self.fields["note"] = _note_field()
        self.fields["notify"] = _notify_field()

    @staticmethod
    def item_field(key: str) -> str:
        """The name of the quantity field of the order line ``key``."""
        return "item_%s" % key

    def item_fields(self) -> list[forms.BoundField]:
        """The quantity fields, one per order line."""
        return [self[self.item_field(key)] for key in self.lines]

    #: The fields about the change itself, shown last.
    change_names = ("status", "message", "note", "notify")
    estimate_names = ("estimated_earliest", "estimated_latest")

    def detail_fields(self) -> list[forms.BoundField]:
        """The parcel's own fields (carrier, numbers, link, shipped at), in order."""
        others = {self.item_field(key) for key in self.lines}
        others.update(self.estimate_names, self.change_names)
        return [field for field in self.visible_fields() if field.name not in others]

    def estimate_fields(self) -> list[forms.BoundField]:
        """The estimated delivery's first and last day."""
        return [self[name] for name in self.estimate_names]

    def change_fields(self) -> list[forms.BoundField]:
        """The status move, message, note and notify box."""
        return [self[name] for name in self.change_names if name in self.fields]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        carrier = cleaned.get("carrier", "")
        if carrier == OTHER_CARRIER:
            cleaned["carrier"] = ""
            if not cleaned.get("carrier_name"):
                self.add_error("carrier_name", _("Type the name of the other carrier."))
        elif carrier and cleaned.get("carrier_name"):
            self.add_error(
                "carrier_name",
                _(
                    "A carrier is chosen from the list: leave the name empty, or "
                    "choose “Other carrier”."
                ),
            )
        earliest = cleaned.get("estimated_earliest")
        latest = cleaned.get("estimated_latest")
        if latest and not earliest:
            self.add_error(
                "estimated_earliest", _("Give the first day of the window too.")
            )
        elif earliest and latest and latest < earliest:
            self.add_error(
                "estimated_latest", _("The latest date is before the earliest date.")
            )
        initial_estimate = self.initial.get("estimated_earliest")
        if not self.adding and initial_estimate and not earliest:
            self.add_error(
                "estimated_earliest",
                _("An estimate cannot be removed, only changed: give the new dates."),
            )
        if self.lines:
            quantities = [cleaned.get(self.item_field(key)) for key in self.lines]
            given = [quantity for quantity in quantities if quantity is not None]
            if given and not any(given):
                self.add_error(
                    None,
                    _(
                        "Give how many of at least one line are in the parcel, or "
                        "leave all quantities empty for the whole order."
                    ),
                )
        return cleaned

    def shipment_fields(self) -> dict[str, Any]:
        """The cleaned shipment fields, as the services take them. Editing, a
        field left as it was keeps the shipment's own value: its form shows
        times to the second, and a stored 15:03:45.557 sent back as 15:03:45
        would be a change (an event, an email) nobody made."""
        changed = set(self.changed_data)
        return {
            name: (
                self.initial[name]
                if not self.adding and name not in changed and name in self.initial
                else self.cleaned_data[name]
            )
            for name in SHIPMENT_FIELDS
        }

    def more_tracking_numbers(self) -> list[str]:
        """The further tracking numbers typed, one per line."""
        text = self.cleaned_data.get("more_tracking_numbers") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def items(self) -> list[dict[str, Any]] | None:
        """The lines in the parcel, as the services take them (None: all)."""
        items = [
            {"line": key, "quantity": self.cleaned_data.get(self.item_field(key))}
            for key in self.lines
        ]
        items = [item for item in items if item["quantity"]]
        return items or None

    def estimate(self) -> tuple[Any, Any] | None:
        """The estimated delivery (earliest, latest), or None when not given."""
        earliest = self.cleaned_data.get("estimated_earliest")
        if not earliest:
            return None
        return earliest, self.cleaned_data.get("estimated_latest") or earliest

    def estimate_changed(self) -> bool:
        """Whether the dates differ from the shipment's current estimate (edit)."""
        estimate = self.estimate()
        if estimate is None:
            return False
        before = (
            self.initial.get("estimated_earliest"),
            self.initial.get("estimated_latest"),
        )
        return estimate != before

    def add_service_error(self, exc: InvalidInput | Exception) -> None:
        """Show a service's refusal beside the field it is about (else on top)."""
        argument = getattr(exc, "argument", "") or ""
        name = argument.split("[", 1)[0].split(".", 1)[0]
        if name == "items":
            index = argument[len("items[") :].split("]", 1)[0]
            items = self.items() or []
            if index.isdigit() and int(index) < len(items):
                name = self.item_field(items[int(index)]["line"])
        elif name in ("earliest", "estimated_delivery"):
            name = "estimated_earliest"
        elif name == "latest":
            name = "estimated_latest"
        if name in self.fields:
            self.add_error(name, str(exc))
        else:
            self.add_error(None, str(exc))


class NoteForm(forms.Form):
    """A note on the timeline: for the customer, or for staff only."""

    VISIBILITY_CHOICES = [
        ("public", _("Customer-visible: shown to the customer")),
        ("internal", _("Internal: only staff see it")),
    ]

    visibility = forms.ChoiceField(
        label=_("Who sees it"),
        choices=VISIBILITY_CHOICES,
        initial="internal",
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {
            "text": forms.CharField(
                label=_("Note"),
                max_length=validation.max_message_length(),
                widget=forms.Textarea(attrs={"rows": 4}),
            ),
            **self.fields,
        }
        self.fields["notify"] = _notify_field()
        self.fields["notify"].help_text = _(
            "Send a customer-visible note to the customer as a message too."
        )

    @property
    def public(self) -> bool:
        return self.cleaned_data["visibility"] == "public"
