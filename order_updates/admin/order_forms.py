"""The forms of the order screens: status change (one order, many), shipment, note.

They only collect and check input; the views hand it to
:mod:`order_updates.services`, which validate again, write the timeline and
queue the notifications.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.options import FORMFIELD_FOR_DBFIELD_DEFAULTS
from django.db import models
from django.utils.translation import gettext_lazy as _

from order_updates.core import validation
from order_updates.core.shipments import UPDATABLE_FIELDS as SHIPMENT_FIELDS
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


class ShipmentForm(forms.Form):
    """A shipment's details, to add one or correct one; the one shipment form.

    Adding one may also move the order (usually to "shipped"): the choices are
    the statuses the pipeline allows from ``current_status``.
    """

    def __init__(
        self, *args: Any, current_status: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(shipment_form_fields())
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

    def shipment_fields(self) -> dict[str, Any]:
        """The cleaned shipment fields, as the services take them."""
        return {name: self.cleaned_data[name] for name in SHIPMENT_FIELDS}


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
