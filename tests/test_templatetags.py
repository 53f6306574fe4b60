"""The template tags' filters: ``order_updates_time`` writes what Django's own
``date_format()`` writes, in every shipped language, zone and format.
"""

import datetime
import itertools
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import formats, timezone, translation
from django.utils.html import format_html

from order_updates.templatetags.order_updates import order_updates_time

LANGUAGES = ("en", "de", "fr")
FORMATS = (
    "DATE_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATE_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "MONTH_DAY_FORMAT",
    "YEAR_MONTH_FORMAT",
    "",
    "c",
    r"\T\o\d\a\y: l jS F Y, \a\t P",
    "D, d M Y H:i:s.u e O T Z I",
    "r U",
    "a A b E f g G h N n o S t w W y z L",
    "Y-m-d",
    "H:i",
)
ZONES = (
    zoneinfo.ZoneInfo("UTC"),
    zoneinfo.ZoneInfo("Europe/Berlin"),
    zoneinfo.ZoneInfo("America/New_York"),
    zoneinfo.ZoneInfo("Asia/Kathmandu"),
    datetime.timezone(datetime.timedelta(hours=-3, minutes=-30)),
)
NAIVE = (
    datetime.datetime(2026, 11, 2, 10, 0),
    datetime.datetime(2026, 1, 1, 0, 0),  # midnight
    datetime.datetime(2026, 6, 30, 12, 0),  # noon
    datetime.datetime(2026, 12, 31, 23, 59, 59, 123456),
    datetime.datetime(2026, 3, 29, 2, 30),  # not on Berlin's clocks (DST starts)
    datetime.datetime(2026, 10, 25, 2, 30),  # twice on Berlin's clocks
    datetime.datetime(2026, 10, 25, 2, 30, fold=1),
    datetime.datetime(2026, 3, 8, 2, 15),  # not on New York's clocks
    datetime.datetime(2026, 11, 1, 1, 45),  # twice on New York's clocks
    datetime.datetime(2026, 5, 1, 13, 5),
)
DATES = (
    datetime.date(2026, 11, 2),
    datetime.date(2024, 2, 29),
    datetime.date(2026, 1, 11),
    datetime.date(1999, 12, 3),
)


def django_time(moment, format_name="DATETIME_FORMAT"):
    """The filter as it was written with Django's own functions."""
    if moment in (None, ""):
        return ""
    try:
        shown = formats.date_format(moment, format_name)
        machine = moment.isoformat()
    except (AttributeError, TypeError, ValueError):
        return ""
    return format_html('<time datetime="{}">{}</time>', machine, shown)


def moments():
    yield from NAIVE
    yield from DATES
    for naive, zone in itertools.product(NAIVE, ZONES):
        yield naive.replace(tzinfo=zone)


@pytest.mark.parametrize("language", LANGUAGES)
def test_order_updates_time_writes_what_django_date_format_writes(language):
    compared = 0
    with translation.override(language), timezone.override("Europe/Berlin"):
        for moment, format_name in itertools.product(moments(), FORMATS):
            expected = django_time(moment, format_name)
            assert order_updates_time(moment, format_name) == expected, (
                moment,
                format_name,
            )
            compared += bool(expected)
    # Dates with time specifiers answer "" (as the date filter does), the rest not.
    assert compared > len(FORMATS) * len(NAIVE) * (len(ZONES) + 1)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_order_updates_time_in_a_template_matches_date_and_iso(language, zone):
    """Through the template engine (which moves aware moments into the page's
    zone first), the same as Django's ``date`` filters on the same value."""
    ours = Template(
        "{% load order_updates %}{{ moment|order_updates_time }}|"
        '{{ moment|order_updates_time:"DATE_FORMAT" }}'
    )
    django = Template(
        "<time datetime=\"{{ moment|date:'c' }}\">{{ moment|date:'DATETIME_FORMAT' }}"
        "</time>|<time datetime=\"{{ moment|date:'c' }}\">{{ moment|date }}</time>"
    )
    for naive in NAIVE[:4]:
        moment = naive.replace(tzinfo=datetime.timezone.utc)
        with translation.override(language), timezone.override(zone):
            context = {"moment": moment}
            assert ours.render(Context(context)) == django.render(Context(context))


def test_order_updates_time_answers_empty_for_what_is_not_a_date():
    for value in (None, "", "<b>soon</b>", 12, datetime.time(10, 30), object()):
        for format_name in ("DATETIME_FORMAT", "DATE_FORMAT", "Y", "x"):
            assert order_updates_time(value, format_name) == django_time(
                value, format_name
            )
    # A time with a time-only format is a time, as Django writes it.
    assert order_updates_time(datetime.time(10, 30), "H:i") == (
        '<time datetime="10:30:00">10:30</time>'
    )


def test_order_updates_time_follows_a_language_switch_and_escapes():
    moment = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.timezone.utc)
    with translation.override("fr"):
        french = order_updates_time(moment, "DATE_FORMAT")
    with translation.override("de"):
        german = order_updates_time(moment, "DATE_FORMAT")
    assert french.endswith(">2 novembre 2026</time>")
    assert german.endswith(">2. November 2026</time>")
    assert order_updates_time(moment, r"<\b>Y</\b> & \"") == (
        '<time datetime="2026-11-02T10:00:00+00:00">&lt;b&gt;2026&lt;/b&gt; '
        "&amp; &quot;</time>"
    )
