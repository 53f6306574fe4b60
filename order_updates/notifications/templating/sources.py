"""Where a notification's template text comes from.

For each part a channel uses, the first of these wins:

1. the merchant's active :class:`~order_updates.models.NotificationTemplate` for
   the type, channel (its configured name) and language (``de-at``);
2. the same for the base language (``de``);
3. a file ``order_updates/notifications/<folder>/<type>_<part>`` found through
   Django's template loaders, so a shop overrides a default by putting a file at
   that path in its own templates (per language first:
   ``order_updates/notifications/de/<folder>/...``); the folders are the
   channel's configured name, then its class's ``template_folder`` (an SMS
   channel configured as "text" reads ``text/``, then ``sms/``);
4. the default file shipped in this package.

Functions here take the channel object: its ``name``, ``parts``, ``short_text``
and ``template_folder`` decide, never a table of names.

The files are read as raw text through the loaders and rendered by Liquid, never
by Django's template engine. A merchant's template that leaves a part blank uses
the file for that part.
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Engine, TemplateDoesNotExist, engines
from django.utils.translation import get_supported_language_variant

from order_updates.exceptions import TemplateError
from order_updates.models import NotificationTemplate

if TYPE_CHECKING:
    from order_updates.notifications.channels.base import BaseChannel

#: The NotificationTemplate field holding each part.
PART_FIELDS = {"subject": "subject", "text": "body_text", "html": "body_html"}
FIELD_PARTS = {field: part for part, field in PART_FIELDS.items()}

#: File name suffix of each part.
PART_SUFFIXES = {"subject": "_subject.txt", "text": "_body.txt", "html": "_body.html"}

#: Parts a channel may do without (an email with no HTML part).
OPTIONAL_PARTS = frozenset({"html"})

#: Where notification templates live among Django's templates.
TEMPLATE_PREFIX = "order_updates/notifications/"

#: The package's own defaults, used even if no Django loader reaches them.
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "templates" / TEMPLATE_PREFIX

#: The language of the files at the top of ``order_updates/notifications/``
#: (those in no language folder): the last fallback of :func:`message_language`.
FILES_LANGUAGE = "en"

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$")


@dataclass(frozen=True)
class TemplateSource:
    """One part's template text and where it came from (for error messages)."""

    part: str
    text: str
    origin: str


def channel_parts(channel: BaseChannel) -> tuple[str, ...]:
    """The parts ``channel`` renders (its ``parts``), in subject, text, html order."""
    return tuple(part for part in PART_FIELDS if part in channel.parts)


def template_folders(channel: BaseChannel) -> list[str]:
    """Where ``channel``'s files are looked up: its name's folder, then its class's."""
    return list(dict.fromkeys([channel.name, channel.template_folder]))


def normalize_language(language: str) -> str:
    """``"de_AT"`` → ``"de-at"``: the form templates are stored and looked up in."""
    return (language or "").strip().replace("_", "-").lower()


def language_candidates(language: str) -> list[str]:
    """The language, then its base language: ``["de-at", "de"]``."""
    language = normalize_language(language)
    if not LANGUAGE_PATTERN.match(language):
        return []
    base = language.split("-")[0]
    return [language] if base == language else [language, base]


def check_codes(type_code: str, *folders: str) -> None:
    """Refuse type codes or folders that could not be file names of ours."""
    for value in (type_code, *folders):
        if not isinstance(value, str) or not CODE_PATTERN.match(value):
            raise TemplateError(
                "Invalid notification type or channel %r: use lowercase letters, "
                "digits and underscores." % (value,)
            )


def file_name(type_code: str, folder: str, part: str) -> str:
    """The file of a part, relative to ``order_updates/notifications/``."""
    return "%s/%s%s" % (folder, type_code, PART_SUFFIXES[part])


def _django_template_loaders():
    for backend in engines.all():
        engine = getattr(backend, "engine", None)
        if isinstance(engine, Engine):
            yield from engine.template_loaders


def read_template_file(name: str, language: str = "") -> tuple[str, str] | None:
    """Raw text and origin of ``order_updates/notifications/<name>``, or None.

    Looks for a per-language file first (``<language>/<name>``, then the base
    language), then ``<name>``: through Django's template loaders (a shop's own
    templates win over the app's), then in this package. Files are read once
    per process, like Django's cached template loader does, except with
    ``DEBUG`` on, where an edited file shows at the next message.
    """
    if settings.DEBUG:
        return _read_template_file(name, language)
    return _cached_template_file(name, language)


def _read_template_file(name: str, language: str) -> tuple[str, str] | None:
    names = ["%s/%s" % (code, name) for code in language_candidates(language)]
    names.append(name)
    for candidate in names:
        full_name = TEMPLATE_PREFIX + candidate
        for loader in _django_template_loaders():
            for origin in loader.get_template_sources(full_name):
                try:
                    return origin.loader.get_contents(origin), str(origin.name)
                except TemplateDoesNotExist:
                    continue
    path = PACKAGE_DIR / name
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    return None


_cached_template_file = functools.lru_cache(maxsize=1024)(_read_template_file)


def _language_file_exists(name: str, code: str) -> bool:
    """Whether ``order_updates/notifications/<code>/<name>`` exists (no fallback)."""
    full_name = "%s%s/%s" % (TEMPLATE_PREFIX, code, name)
    for loader in _django_template_loaders():
        for origin in loader.get_template_sources(full_name):
            try:
                origin.loader.get_contents(origin)
            except TemplateDoesNotExist:
                continue
            return True
    return (PACKAGE_DIR / code / name).is_file()


_cached_language_file_exists = functools.lru_cache(maxsize=1024)(_language_file_exists)


@receiver(setting_changed)
def _forget_template_files(*, setting: str, **kwargs: object) -> None:
    if setting in ("TEMPLATES", "INSTALLED_APPS", "ORDER_UPDATES"):
        _cached_template_file.cache_clear()
        _cached_language_file_exists.cache_clear()


def has_language_templates(
    type_code: str, channel: BaseChannel | str, language: str
) -> bool:
    """Whether ``type_code`` has templates for ``channel`` written in ``language``
    (or its base language): files in a language folder, or the merchant's
    active templates. English is the language of the default files.

    ``channel`` is the channel object, or only its configured name (then its
    folder is that name and every part counts).
    """
    candidates = language_candidates(language)
    if not candidates:
        return False
    if candidates[-1] == FILES_LANGUAGE:
        return True
    exists = _language_file_exists if settings.DEBUG else _cached_language_file_exists
    if isinstance(channel, str):
        name, folders, parts = channel, [channel], tuple(PART_FIELDS)
    else:
        name, folders, parts = (
            channel.name,
            template_folders(channel),
            channel_parts(channel),
        )
    check_codes(type_code, *folders)
    for code in candidates:
        for folder in folders:
            for part in parts:
                if exists(file_name(type_code, folder, part), code):
                    return True
    return NotificationTemplate.objects.filter(
        type=type_code, channel=name, language__in=candidates, active=True
    ).exists()


def shop_language(language: str) -> str:
    """The language of the shop's (``LANGUAGES``) a customer who reads
    ``language`` is served in, as Django's ``LocaleMiddleware`` would pick it:
    ``de-DE`` and ``de_AT`` give ``de`` when the shop offers ``de``, ``en-us``
    gives ``en`` when it offers only ``en``; a language the shop does not offer
    gives the shop's ``LANGUAGE_CODE`` (its variant in ``LANGUAGES``).

    Links made with this language active carry an ``i18n_patterns`` prefix the
    shop serves.
    """
    for code in (language, settings.LANGUAGE_CODE):
        code = normalize_language(code)
        if not code:
            continue
        try:
            return normalize_language(get_supported_language_variant(code))
        except LookupError:
            continue
    # LANGUAGE_CODE is not in LANGUAGES either (Django's check translation.E004).
    return normalize_language(settings.LANGUAGE_CODE) or FILES_LANGUAGE


def message_language(type_code: str, channel: BaseChannel | str, language: str) -> str:
    """The language a message is written in for a customer who reads ``language``.

    Always one of the shop's languages (:func:`shop_language`): the customer's
    (``de-DE`` reads ``de``) if the type has templates in it (or its base
    language), else the shop's ``LANGUAGE_CODE`` if it has, else English (the
    default files) if the shop offers it, else the shop's language anyway (with
    the English files). The message's text, its ``lang`` attribute, its dates
    and numbers and the language prefix of its links all follow the language
    chosen here.
    """
    shop = shop_language(settings.LANGUAGE_CODE)
    candidates = [shop_language(language), shop]
    with contextlib.suppress(LookupError):  # the shop does not offer English
        candidates.append(
            normalize_language(get_supported_language_variant(FILES_LANGUAGE))
        )
    for code in dict.fromkeys(candidates):
        if has_language_templates(type_code, channel, code):
            return code
    return shop


def find_database_template(type_code: str, channel: str, language: str):
    """The merchant's active template for the language or its base, or None.

    ``channel`` is the configured name, which merchant templates are keyed by.
    """

    candidates = language_candidates(language)
    if not candidates:
        return None
    rows = {
        row.language: row
        for row in NotificationTemplate.objects.filter(
            type=type_code, channel=channel, language__in=candidates, active=True
        )
    }
    for code in candidates:
        if code in rows:
            return rows[code]
    return None


def file_sources(
    type_code: str, channel: BaseChannel, language: str = ""
) -> dict[str, TemplateSource]:
    """The file templates (a shop's override, else the default) of each part."""
    folders = template_folders(channel)
    check_codes(type_code, *folders)
    sources = {}
    for part in channel_parts(channel):
        for folder in folders:
            found = read_template_file(file_name(type_code, folder, part), language)
            if found is not None:
                sources[part] = TemplateSource(part, found[0], found[1])
                break
    return sources


def get_sources(
    type_code: str, channel: BaseChannel, language: str
) -> dict[str, TemplateSource]:
    """The template of each part ``channel`` renders, in lookup order (see above).

    A part with no template at all is left out; the caller decides whether the
    channel can do without it.
    """
    sources = file_sources(type_code, channel, language)
    merchant = find_database_template(type_code, channel.name, language)
    if merchant is not None:
        for part in channel_parts(channel):
            text = getattr(merchant, PART_FIELDS[part])
            if text.strip():
                origin = "notification template %s/%s/%s (#%s)" % (
                    merchant.type,
                    merchant.channel,
                    merchant.language,
                    merchant.pk,
                )
                sources[part] = TemplateSource(part, text, origin)
    return sources
