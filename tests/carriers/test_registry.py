"""The carrier registry: built-in carriers, names, links, settings."""

import pytest
from django.utils import translation

from order_updates.carriers.detection import detect
from order_updates.carriers.registry import (
    BUILTIN_CARRIERS,
    carrier_name,
    choices,
    get_carrier,
    get_carriers,
    tracking_link,
)
from order_updates.exceptions import OrderUpdatesConfigurationError


def with_carriers(settings, carriers, **more):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "CARRIERS": carriers, **more}


def test_at_least_twenty_carriers_each_with_a_link():
    assert len(BUILTIN_CARRIERS) >= 20
    for carrier in BUILTIN_CARRIERS:
        assert "{number}" in carrier.tracking_url, carrier.code
        assert carrier.tracking_link("AB 1/2").count("AB%201%2F2") == 1


def test_names_are_translated_and_unknown_carriers_keep_their_free_text():
    assert carrier_name("china_post") == "China Post / EMS"
    assert carrier_name("", "Bob's Bikes Courier") == "Bob's Bikes Courier"
    assert carrier_name("acme") == "acme"
    with translation.override("de"):
        assert carrier_name("ups") == "UPS"


def test_tracking_link_prefers_the_shops_own_link():
    assert tracking_link("ups", "1Z1") == (
        "https://www.ups.com/track?loc=en_US&tracknum=1Z1"
    )
    assert tracking_link("ups", "1Z1", "https://x.example/1") == "https://x.example/1"
    assert tracking_link("", "123") == ""


@pytest.mark.parametrize(
    ("code", "language", "part"),
    [
        ("dpd", "de", "/status/de_DE/parcel/"),
        ("dpd", "de-at", "/status/de_DE/parcel/"),
        ("dpd", "fr", "/status/fr_FR/parcel/"),
        ("dpd", "pl", "/status/en_US/parcel/"),
        ("dhl_paket", "de", "dhl.de/de/privatkunden/"),
        ("dhl_paket", "fr", "dhl.de/en/privatkunden/"),
        ("dhl", "fr-ca", "dhl.com/fr-fr/home/"),
        ("dhl", "it", "dhl.com/global-en/home/"),
        ("ups", "en-gb", "loc=en_GB&"),
        ("ups", "en-us", "loc=en_US&"),
        ("canada_post", "fr", "/track-reperage/fr#"),
        ("japan_post", "ja", "&locale=ja"),
    ],
)
def test_links_open_the_carriers_page_in_the_customers_language(code, language, part):
    with translation.override(language):
        url = tracking_link(code, "00123")
    assert part in url and "{" not in url
    assert get_carrier(code).tracking_link("00123", language) == url


def test_every_builtin_language_placeholder_has_a_default():
    for carrier in BUILTIN_CARRIERS:
        if "{language}" in carrier.tracking_url:
            assert "" in carrier.url_languages, carrier.code
        for language in ("en", "de", "fr", "zh-hans"):
            assert "{language}" not in carrier.tracking_link("1", language)


def test_a_shop_gives_its_carriers_link_languages(settings):
    with_carriers(
        settings,
        {
            "bring": {
                "name": "Bring",
                "tracking_url": "https://sporing.bring.no/{language}/{number}",
                "url_languages": {"": "en", "NB": "nb", "nn": "nb"},
            },
            "dpd": {"url_languages": {"": "en_GB"}},
        },
    )
    assert tracking_link("bring", "7") == "https://sporing.bring.no/en/7"
    with translation.override("nb"):
        assert tracking_link("bring", "7") == "https://sporing.bring.no/nb/7"
    with translation.override("de"):
        assert "/status/en_GB/parcel/7" in tracking_link("dpd", "7")


def test_shops_add_override_and_remove_carriers(settings):
    with_carriers(
        settings,
        {
            "bring": {
                "name": "Bring",
                "tracking_url": "https://tracking.bring.com/tracking/{number}",
                "patterns": [{"regex": r"BR\d{8}", "distinctive": True}],
            },
            "ups": {"tracking_url": "https://ups.example/{number}"},
            "inpost": None,
        },
    )
    assert get_carrier("bring").tracking_link("BR12345678").endswith("BR12345678")
    assert detect("BR12345678").carrier.code == "bring"
    assert get_carrier("ups").tracking_link("1Z") == "https://ups.example/1Z"
    assert get_carrier("ups").patterns  # the rest of UPS stays
    assert get_carrier("inpost") is None
    assert "inpost" not in dict(choices())


def test_a_check_digit_from_a_dotted_path(settings):
    with_carriers(
        settings,
        {
            "mod7post": {
                "name": "Mod 7 Post",
                "patterns": [
                    {
                        "regex": r"M(?P<check>\d{8})",
                        "check": "order_updates.carriers.checkdigits.mod7",
                    }
                ],
            }
        },
    )
    assert "mod7post" in detect("M12345675").codes  # 1234567 % 7 == 5
    assert "mod7post" not in detect("M12345676").codes


@pytest.mark.parametrize(
    ("carriers", "message"),
    [
        ({"new": {"tracking_url": "https://x/{number}"}}, r"\['name'\] is missing"),
        ({"ups": {"colour": "brown"}}, "unknown keys"),
        ({"ups": {"tracking_url": "https://x/"}}, "must contain {number}"),
        ({"ups": {"patterns": ["(unclosed"]}}, "not a valid regular expression"),
        ({"Bad Code": {"name": "x"}}, "lowercase"),
        ({"ups": "UPS"}, "must be a dict"),
        (
            {"new": {"name": "New", "tracking_url": "https://x/{language}/{number}"}},
            r"contains {language}: give 'url_languages'",
        ),
        ({"dpd": {"url_languages": {"de": "de_DE"}}}, "with a '' entry"),
        ({"dpd": {"url_languages": ["de"]}}, r"\['url_languages'\] must be a dict"),
    ],
)
def test_bad_carrier_settings_name_the_key(settings, carriers, message):
    with_carriers(settings, carriers)
    with pytest.raises(OrderUpdatesConfigurationError, match=message):
        get_carriers()


def test_system_check_reports_bad_carrier_settings(settings):
    from order_updates.checks import check_carriers

    with_carriers(settings, {"ups": {"colour": "brown"}})
    errors = check_carriers()
    assert [e.id for e in errors] == ["order_updates.E040"]


def test_system_check_reports_webhooks_and_time_limits(settings):
    from order_updates.checks import check_carriers

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "TRACKING_WEBHOOKS": {"aftership": {"SECRETS": []}, "shipbob": {}},
        "STATUS_TIME_LIMITS": {"procesing": 2},
    }
    errors = check_carriers()
    messages = [e.msg for e in errors]
    assert [e.id for e in errors] == [
        "order_updates.E041",
        "order_updates.W040",
        "order_updates.E041",
        "order_updates.E042",
    ]
    assert "['SECRETS'] must be a non-empty list" in messages[0]
    assert "no tracking webhook provider 'shipbob'" in messages[1]
    assert "'procesing' is not a status" in messages[3]


@pytest.mark.parametrize(
    ("carriers", "message"),
    [
        ({"ups": {"transit_days": 3}}, r"\['transit_days'\] must be a dict"),
        ({"ups": {"transit_days": {"": [5, 2]}}}, "fastest, slowest"),
        ({"ups": {"transit_days": {"": "3"}}}, "whole number of days"),
        ({"ups": {"stuck_after_days": 0}}, r"\['stuck_after_days'\] must be"),
    ],
)
def test_bad_transit_and_stuck_days_name_the_key(settings, carriers, message):
    with_carriers(settings, carriers)
    with pytest.raises(OrderUpdatesConfigurationError, match=message):
        get_carriers()


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"DEFAULT_TRANSIT_DAYS": [4, 1]}, "DEFAULT_TRANSIT_DAYS'\\]: transit days"),
        ({"STUCK_AFTER_DAYS": "5"}, "STUCK_AFTER_DAYS'\\] must be a whole number"),
    ],
)
def test_system_check_reports_bad_default_days(settings, more, message):
    import re

    from order_updates.checks import check_carriers

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, **more}
    errors = check_carriers()
    assert [e.id for e in errors] == ["order_updates.E043"]
    assert re.search(message, errors[0].msg)
