"""Check-digit algorithms that carriers define for their tracking numbers.

Each function takes a normalized number (upper case, no spaces) that its
pattern already matched, and says whether its check digit is right. A carrier
pattern names one of them (or any callable of the same shape) as ``check``.
"""

from __future__ import annotations

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digits(value: str) -> list[int]:
    return [int(char) for char in value]


def mod10_3_1(number: str) -> bool:
    """GS1 / USPS IMpb / FedEx Ground: weights 3 and 1 from the right, mod 10."""
    body, check = number[:-1], number[-1]
    total = sum(
        digit * (3 if index % 2 == 0 else 1)
        for index, digit in enumerate(reversed(_digits(body)))
    )
    return (10 - total % 10) % 10 == int(check)


def ups(number: str) -> bool:
    """UPS "1Z" numbers: letters count as (position in the alphabet + 2) mod 10,
    every second character doubled, mod 10.
    """

    def value(char: str) -> int:
        return int(char) if char.isdigit() else (ord(char) - ord("A") + 2) % 10

    body = [value(char) for char in number[2:-1]]
    total = sum(v * (2 if index % 2 else 1) for index, v in enumerate(body))
    return (10 - total % 10) % 10 == value(number[-1])


def fedex_express(number: str) -> bool:
    """FedEx Express, 12 digits: weights 3, 1, 7 from the left, mod 11, mod 10."""
    weights = (3, 1, 7)
    total = sum(
        digit * weights[index % 3] for index, digit in enumerate(_digits(number[:-1]))
    )
    return total % 11 % 10 == int(number[-1])


def mod7(number: str) -> bool:
    """DHL Express air waybills and Japan Post: the serial mod 7."""
    return int(number[:-1]) % 7 == int(number[-1])


def s10(number: str) -> bool:
    """UPU S10 (``EA123456785US``), used by postal operators: weights 8, 6, 4, 2,
    3, 5, 9, 7 on the eight serial digits, 11 minus the sum mod 11 (10 → 0, 11 → 5).
    """
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    total = sum(w * d for w, d in zip(weights, _digits(number[2:10]), strict=True))
    check = 11 - total % 11
    check = {10: 0, 11: 5}.get(check, check)
    return check == int(number[10])


def iso7064_mod37_36(number: str) -> bool:
    """ISO 7064 MOD 37,36 (DPD's 28-character parcel label numbers)."""
    modulus = 36
    product = modulus
    for char in number[:-1]:
        product = (product + _ALPHANUMERIC.index(char)) % modulus
        product = (product or modulus) * 2 % (modulus + 1)
    return _ALPHANUMERIC[(modulus + 1 - product) % modulus] == number[-1]
