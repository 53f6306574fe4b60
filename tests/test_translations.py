"""The compiled catalogs (django.mo) ship in git and say what their .po files say.

A missing or stale .mo does not fail anything at run time: Django quietly falls
back to English. So each .mo is compared with its .po, by content (the bytes
depend on the msgfmt version): after editing a .po, run ``make messages`` and
commit both files (docs/testing.rst, "Translations").
"""

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import order_updates

LOCALE = Path(order_updates.__file__).resolve().parent / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))


def _expected(catalog) -> dict:
    """What msgfmt compiles from a catalog, in Python's gettext ``_catalog`` form."""
    expected = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue  # the header, and entries msgfmt leaves out
        prefix = "%s\x04" % message.context if message.context else ""
        if isinstance(message.id, (list, tuple)):
            if not all(message.string):
                continue
            for index, text in enumerate(message.string):
                expected[(prefix + message.id[0], index)] = text
        elif message.string:
            expected[prefix + message.id] = message.string
    return expected


def test_there_are_catalogs():
    assert {path.parent.parent.name for path in CATALOGS} >= {"de", "fr"}


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_compiled_catalog_matches_its_po(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), "%s is missing: run `make messages` and commit it." % mo
    with po.open("rb") as file:
        catalog = read_po(file)
    with mo.open("rb") as file:
        # _catalog holds exactly the compiled entries (msgid → msgstr).
        compiled = dict(gettext.GNUTranslations(file)._catalog)
    compiled.pop("", None)  # the header
    expected = _expected(catalog)
    stale = sorted(
        str(key)
        for key in set(compiled) | set(expected)
        if compiled.get(key) != expected.get(key)
    )
    assert not stale, (
        "%s is out of date with its .po (run `make messages` and commit it); "
        "entries that differ: %s" % (mo, ", ".join(stale[:10]))
    )


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_translations_keep_their_placeholders(po):
    with po.open("rb") as file:
        catalog = read_po(file)
    problems = [
        "%s: %s" % (message.id, error)
        for message, errors in catalog.check()
        for error in errors
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_catalogs_are_complete(po):
    """msgfmt leaves out fuzzy and empty entries: their strings stay in English.

    ``makemessages`` marks a new string's guess from a similar one as fuzzy: check
    it, correct it, then remove the flag.
    """
    with po.open("rb") as file:
        catalog = read_po(file)
    unfinished = [
        str(message.id)
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not (
                all(message.string)
                if isinstance(message.string, (list, tuple))
                else message.string
            )
        )
    ]
    assert not unfinished, "%d entries to translate in %s: %s" % (
        len(unfinished),
        po,
        "; ".join(unfinished[:10]),
    )


def test_every_mo_has_its_po():
    orphans = [
        mo
        for mo in LOCALE.glob("*/LC_MESSAGES/*.mo")
        if not mo.with_suffix(".po").exists()
    ]
    assert not orphans
