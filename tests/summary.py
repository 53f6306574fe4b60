"""Read the order summary back out of a rendered text email, in any language.

Shared by the suites that check that a summary adds up (tests/test_summary.py,
oscar_project/test_oscar.py): lines × quantities + shipping − discount (+ tax
when it is added) = total.
"""

import re
from decimal import Decimal

from babel.numbers import parse_decimal

#: The labels of the default layouts (templates/.../email/_layout.txt).
LABELS = {
    "en": {
        "subtotal": "Subtotal",
        "shipping": "Shipping",
        "discount": "Discount",
        "tax": "Tax",
        "total": "Total",
        "tax_included": "(Including tax",
    },
    "de": {
        "subtotal": "Zwischensumme",
        "shipping": "Versand",
        "discount": "Rabatt",
        "tax": "MwSt.",
        "total": "Gesamtsumme",
        "tax_included": "(inkl. MwSt.",
    },
    "fr": {
        "subtotal": "Sous-total",
        "shipping": "Livraison",
        "discount": "Remise",
        "tax": "TVA",
        "total": "Total",
        "tax_included": "(dont TVA",
    },
}

_NUMBER = re.compile(r"(-?)[^\d-]*([\d][\d.,\u202f\xa0 ]*\d|\d)")


def amount(text: str, language: str) -> Decimal:
    """The money amount at the end of ``text`` ("Total: €42.50", "-5,00 €")."""
    value = text.rsplit(":", 1)[-1]
    sign, digits = _NUMBER.search(value).groups()
    digits = re.sub(r"[\u202f\xa0 ]", "", digits)
    number = parse_decimal(digits, locale=language, strict=False)
    return -number if sign else number


def parse_summary(text: str, language: str) -> dict:
    """``{"lines": [...], "subtotal": ..., "total": ...}`` from a text email;
    figures the email does not show are left out.
    """
    labels = LABELS[language.split("-")[0]]
    found: dict = {"lines": []}
    for line in text.splitlines():
        if line.startswith("- ") and ":" in line:
            found["lines"].append(amount(line, language))
            continue
        for key, label in labels.items():
            if re.match(r"%s ?:" % re.escape(label), line):
                found[key] = amount(line, language)
    return found


def adds_up(summary: dict) -> bool:
    """Whether the lines, shipping, discount and added tax make the total."""
    total = sum(summary["lines"], Decimal(0))
    if "subtotal" in summary:
        assert summary["subtotal"] == total, summary
    total += summary.get("shipping", 0) + summary.get("discount", 0)
    total += summary.get("tax", 0)
    return total == summary["total"]
