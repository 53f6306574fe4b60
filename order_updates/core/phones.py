"""Phone numbers: one validation and normalisation for every reader of them."""

from __future__ import annotations

from typing import Any

import phonenumbers
from phonenumber_field.phonenumber import to_python


def normalize_phone(value: Any) -> str:
    """``value`` as an E.164 number, or '' if it is not a valid phone number.

    National numbers are read in ``PHONENUMBER_DEFAULT_REGION``, as
    django-phonenumber-field does.
    """
    if not value:
        return ""
    if not isinstance(value, phonenumbers.PhoneNumber):
        value = str(value)
    number = to_python(value)
    if not number or not number.is_valid():
        return ""
    return number.as_e164
