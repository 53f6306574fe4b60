"""The settings object and the helpers that read pluggable parts from settings."""

import pytest

from order_updates.conf import app_settings, load_component, perform_import
from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.channels.sms.base import BaseSMSProvider
from order_updates.notifications.channels.sms.test import TestSMSProvider

ADAPTER = "order_updates.core.adapter.DefaultOrderAdapter"
TEST_PROVIDER = "order_updates.notifications.channels.sms.test.TestSMSProvider"


def test_perform_import_resolves_dotted_paths_in_lists_and_backends():
    assert perform_import(ADAPTER, "K") is DefaultOrderAdapter
    assert perform_import([ADAPTER, DefaultOrderAdapter], "K") == [
        DefaultOrderAdapter,
        DefaultOrderAdapter,
    ]
    spec = {"BACKEND": ADAPTER, "OPTIONS": {"path": "not.imported"}}
    assert perform_import(spec, "K") == {
        "BACKEND": DefaultOrderAdapter,
        "OPTIONS": {"path": "not.imported"},
    }
    assert perform_import(None, "K") is None


def test_perform_import_errors_name_the_exact_key():
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        perform_import([ADAPTER, "shop.Nope"], "ORDER_UPDATES['X']")
    assert str(info.value).startswith("ORDER_UPDATES['X'][1]: could not import")
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        perform_import({"BACKEND": "shop.Nope"}, "ORDER_UPDATES['X']")
    assert str(info.value).startswith("ORDER_UPDATES['X']['BACKEND']: could not")


def test_import_strings_of_the_settings_object(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "ADAPTER": "shop.Nope"}
    with pytest.raises(OrderUpdatesConfigurationError, match=r"\['ADAPTER'\]"):
        app_settings.ADAPTER  # noqa: B018


def test_load_component_checks_without_building():
    component = load_component(
        {"BACKEND": TEST_PROVIDER, "OPTIONS": {"sender": "Shop"}},
        "ORDER_UPDATES['P']",
        base=BaseSMSProvider,
    )
    assert component.backend is TestSMSProvider
    assert component.option_name("sender") == "ORDER_UPDATES['P']['OPTIONS']['sender']"
    provider = component.build()
    assert isinstance(provider, TestSMSProvider) and provider.sender == "Shop"


def test_a_bad_option_value_names_its_key():
    component = load_component(
        {"BACKEND": TEST_PROVIDER, "OPTIONS": {"sender": 42}}, "ORDER_UPDATES['P']"
    )
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        component.build()
    assert str(info.value).startswith(
        "ORDER_UPDATES['P']['OPTIONS']['sender'] must be a phone number"
    )
