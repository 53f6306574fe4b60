import os
from pathlib import Path

import pytest
from django.core import checks

from order_updates.checks import (
    check_adapter,
    check_channels,
    check_email_timeout,
    check_field_kinds,
    check_order_model,
    check_pipeline,
    check_settings,
    check_status_sync,
    check_user_phone_field,
)

ROOT = str(Path(__file__).resolve().parent.parent)


def ids(messages):
    return [message.id for message in messages]


@pytest.mark.django_db  # Django 6.1's JSONField check asks the database
def test_the_configured_project_passes_every_check():
    assert checks.run_checks() == []


def run_manage_py_check(*program, options=(), cwd=ROOT, **env):
    """``manage.py check`` in a process of its own, so that each project loads
    its own settings and models."""
    import subprocess
    import sys

    environ = {
        key: value
        for key, value in os.environ.items()
        # SQLite, the project's own settings and its default SITE_URL
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEMO_SITE_URL")
    }
    return subprocess.run(
        [sys.executable, *program, "check", *options],
        capture_output=True,
        text=True,
        env={**environ, **env},
        cwd=cwd,
    )


@pytest.mark.parametrize("shop", ["plainshop", "customershop"])
def test_every_test_shop_passes_every_check(shop):
    """Their field mappings (a user across a one-to-one, amounts, dates, text
    statuses) are all of the right kind."""
    done = run_manage_py_check(
        "-m",
        "django",
        options=["--settings=tests.settings"],
        ORDER_UPDATES_TEST_SHOP=shop,
        PYTHONPATH=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_example_project_passes_every_check():
    project = os.path.join(ROOT, "example_project")
    if not os.path.exists(os.path.join(project, "manage.py")):
        pytest.skip("example_project/ is not beside tests/ here (tox dist)")
    done = run_manage_py_check("manage.py", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize("value", [None, "", "Order", "a.b.C", 42])
def test_e001_missing_or_malformed_order_model(settings, value):
    if value is None:
        del settings.ORDER_UPDATES_ORDER_MODEL
    else:
        settings.ORDER_UPDATES_ORDER_MODEL = value
    messages = check_order_model()
    assert ids(messages) == ["order_updates.E001"]
    assert 'ORDER_UPDATES_ORDER_MODEL = "shop.Order"' in messages[0].hint


def test_e002_order_model_not_installed(settings):
    settings.ORDER_UPDATES_ORDER_MODEL = "nosuchapp.Order"
    messages = check_order_model()
    assert ids(messages) == ["order_updates.E002"]
    assert "INSTALLED_APPS" in messages[0].hint


def test_e003_adapter_cannot_be_imported(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "ADAPTER": "shop.nope.Adapter"}
    messages = check_adapter()
    assert ids(messages) == ["order_updates.E003"]
    assert "shop.nope.Adapter" in messages[0].msg
    assert "DefaultOrderAdapter" in messages[0].hint


def test_e006_unknown_order_fields_key(settings):
    settings.ORDER_UPDATES = {"ORDER_FIELDS": {"emial": "email"}}
    messages = check_adapter()
    assert ids(messages) == ["order_updates.E006"]
    assert "emial" in messages[0].msg
    assert "Known keys: number, email" in messages[0].hint


def test_conventional_fields_the_model_lacks_are_not_errors(settings):
    from order_updates.conf import get_order_model
    from order_updates.core.adapter import get_adapter

    settings.ORDER_UPDATES = {"ORDER_FIELDS": {}}
    assert check_adapter() == []
    model_fields = {f.name for f in get_order_model()._meta.get_fields()}
    for name, path in get_adapter().order_fields.items():
        assert path is None or path.split("__")[0] in model_fields, name


def test_e001_reported_by_manage_py_check_without_a_traceback(tmp_path):
    """The real start-up path: models load, and the check explains what to set."""
    import subprocess
    import sys

    (tmp_path / "broken_settings.py").write_text(
        "from tests.settings import *  # noqa\ndel ORDER_UPDATES_ORDER_MODEL\n"
    )
    env = {**os.environ, "PYTHONPATH": "%s:%s" % (tmp_path, ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=broken_settings"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert "order_updates.E001" in done.stderr
    assert 'ORDER_UPDATES_ORDER_MODEL = "shop.Order"' in done.stderr
    assert "Traceback" not in done.stderr


def test_e006_field_path_the_order_does_not_have(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {
            **settings.ORDER_UPDATES.get("ORDER_FIELDS", {}),
            "email": "customer__mail",
            "phone": "no_such_field",
        },
    }
    messages = check_adapter()
    assert ids(messages) == ["order_updates.E006", "order_updates.E006"]
    assert "'customer__mail'" in messages[0].msg + messages[1].msg
    assert "set it to None" in messages[0].hint


@pytest.mark.django_db  # run_checks(): Django 6.1's JSONField check asks the database
@pytest.mark.parametrize(
    "path", ["phone", "customer__mobile", "customer__phone__digits", "", 42]
)
def test_e022_user_phone_field_the_user_does_not_have(settings, path):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "USER_PHONE_FIELD": path}
    messages = check_user_phone_field()
    assert ids(messages) == ["order_updates.E022"]
    assert repr(path) in messages[0].msg and "auth.User" in messages[0].msg
    assert "profile__phone" in messages[0].hint
    assert ids(checks.run_checks()) == ["order_updates.E022"]


@pytest.mark.parametrize("path", [None, "customer__phone", "email", "get_full_name"])
def test_user_phone_field_naming_a_path_from_the_user_passes(settings, path):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "USER_PHONE_FIELD": path}
    assert check_user_phone_field() == []


def test_e004_broken_pipeline_lists_each_problem(settings):
    settings.ORDER_UPDATES = {
        "PIPELINE": {
            "initial": "new",
            "statuses": [
                {"code": "new", "transitions": ["gone"]},
                {"code": "done", "terminal": True, "transitions": ["new"]},
            ],
        }
    }
    messages = check_pipeline()
    assert ids(messages) == ["order_updates.E004", "order_updates.E004"]
    assert "'gone'" in messages[0].msg
    assert "default pipeline" in messages[0].hint


def test_e004_pipeline_of_the_wrong_type(settings):
    settings.ORDER_UPDATES = {"PIPELINE": ["placed"]}
    assert ids(check_pipeline()) == ["order_updates.E004"]


def test_e004_pipeline_dotted_path_that_does_not_import(settings):
    settings.ORDER_UPDATES = {"PIPELINE": "shop.pipelines.MISSING"}
    messages = check_pipeline()
    assert ids(messages) == ["order_updates.E004"]
    assert "shop.pipelines.MISSING" in messages[0].msg


def test_pipeline_from_dotted_path(settings):
    settings.ORDER_UPDATES = {"PIPELINE": "order_updates.pipeline.DEFAULT_PIPELINE"}
    assert check_pipeline() == []


def test_w001_unreachable_status(settings):
    from order_updates.pipeline import DEFAULT_PIPELINE

    settings.ORDER_UPDATES = {
        "PIPELINE": {
            **DEFAULT_PIPELINE,
            "statuses": [*DEFAULT_PIPELINE["statuses"], {"code": "limbo"}],
        }
    }
    messages = check_pipeline()
    assert ids(messages) == ["order_updates.W001"]
    assert messages[0].level == checks.WARNING


def test_e005_unknown_setting_key(settings):
    settings.ORDER_UPDATES = {"TRACK_NEW_ORDER": True}
    messages = check_settings()
    assert ids(messages) == ["order_updates.E005"]
    assert "TRACK_NEW_ORDERS" in messages[0].hint


def test_e005_settings_not_a_dict(settings):
    settings.ORDER_UPDATES = ["ADAPTER"]
    assert ids(check_settings()) == ["order_updates.E005"]


@pytest.mark.django_db
def test_checks_run_with_manage_py_check(settings):
    settings.ORDER_UPDATES = {"TRACK_NEW_ORDER": True}
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match=r"order_updates\.E005"):
        call_command("check")


def test_w002_smtp_without_a_timeout(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = None
    messages = check_email_timeout()
    assert ids(messages) == ["order_updates.W002"]
    assert "EMAIL_TIMEOUT" in messages[0].hint
    settings.EMAIL_TIMEOUT = 30
    assert check_email_timeout() == []


EMAIL = "order_updates.notifications.channels.email.EmailChannel"
SMS = "order_updates.notifications.channels.sms.SMSChannel"
TWILIO = "order_updates.notifications.channels.sms.twilio.TwilioSMSProvider"
TWILIO_OPTIONS = {"account_sid": "AC1", "auth_token": "t", "sender": "+15005550006"}


def test_w002_applies_to_any_email_channel_whatever_its_name(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = None
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "mail": EMAIL,
            "test": "order_updates.notifications.channels.test.TestChannel",
        },
    }
    [warning] = check_email_timeout()
    assert warning.id == "order_updates.W002"
    assert "Channel 'mail'" in warning.msg  # the test channel never connects
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "CHANNELS": {"sms": SMS}}
    assert check_email_timeout() == []


@pytest.mark.parametrize(
    ("channels", "key"),
    [
        ({"sms": "shop.channels.Nope"}, "['CHANNELS']['sms']"),
        ({"sms": {"BACKEND": "shop.Nope"}}, "['CHANNELS']['sms']['BACKEND']"),
        ({"sms": {"OPTIONS": {}}}, "['CHANNELS']['sms']['BACKEND']"),
        ({"sms": {"BACKEND": SMS, "OPTIONS": 1}}, "['CHANNELS']['sms']['OPTIONS']"),
        (
            {"sms": {"BACKEND": SMS, "OPTIONS": {"from": "+1"}}},
            "['CHANNELS']['sms']['OPTIONS']['from']",
        ),
        (
            {"sms": {"BACKEND": SMS, "OPTIONS": {"provider": "shop.Nope"}}},
            "['CHANNELS']['sms']['OPTIONS']['provider']",
        ),
        (
            {
                "sms": {
                    "BACKEND": SMS,
                    "OPTIONS": {
                        "provider": {
                            "BACKEND": TWILIO,
                            "OPTIONS": {"auth_token": "t", "sender": "+1"},
                        }
                    },
                }
            },
            "['CHANNELS']['sms']['OPTIONS']['provider']['OPTIONS']['account_sid']",
        ),
        (
            {
                "sms": {
                    "BACKEND": SMS,
                    "OPTIONS": {
                        "provider": {
                            "BACKEND": TWILIO,
                            "OPTIONS": {**TWILIO_OPTIONS, "account_sid": ""},
                        }
                    },
                }
            },
            "['CHANNELS']['sms']['OPTIONS']['provider']['OPTIONS']['account_sid']",
        ),
        (
            {"mail": {"BACKEND": EMAIL, "OPTIONS": {"mailer": "transactional"}}},
            "['CHANNELS']['mail']['OPTIONS']['mailer']",
        ),
        (
            {"push": "order_updates.notifications.channels.push.WebPushChannel"},
            "['CHANNELS']['push']['OPTIONS']['vapid_private_key']",
        ),
        (["email"], "['CHANNELS']"),
    ],
)
def test_e007_each_bad_channel_setting_names_its_key(settings, channels, key):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "CHANNELS": channels}
    messages = check_channels()
    assert messages, "no error for %r" % (channels,)
    assert set(ids(messages)) == {"order_updates.E007"}
    assert "ORDER_UPDATES" + key in messages[0].msg
    assert "OPTIONS" in messages[0].hint or "options" in messages[0].hint


def test_e007_reports_every_bad_channel(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "email": EMAIL,
            "sms": {"BACKEND": SMS, "OPTIONS": {"provider": "shop.Nope"}},
            "text": {"BACKEND": SMS, "OPTIONS": {"provider": TWILIO}},
        },
    }
    messages = check_channels()
    assert [m.msg.split(":")[0].split(" ")[0] for m in messages] == [
        "ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']['provider']",
        "ORDER_UPDATES['CHANNELS']['text']['OPTIONS']['provider']['OPTIONS']"
        "['account_sid']",
    ]


def test_a_good_twilio_set_up_passes(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "text": {
                "BACKEND": SMS,
                "OPTIONS": {"provider": {"BACKEND": TWILIO, "OPTIONS": TWILIO_OPTIONS}},
            }
        },
    }
    assert check_channels() == []


@pytest.mark.parametrize(
    "site",
    [
        "shop.example.com",
        "www.shop.example.com/",
        "//shop.example.com",
        "ftp://shop.example.com",
        "https://",
        "https:///shop",
        "https://shop.example.com?ref=mail",
        "https://shop.example.com/#top",
        "https://shop.example.com:port",
        " https://shop.example.com",
        42,
    ],
)
def test_e008_site_url_that_is_not_an_absolute_http_address(settings, site):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "SITE_URL": site}
    messages = check_channels()
    assert ids(messages) == ["order_updates.E008"]
    assert repr(site) in messages[0].msg
    assert '"https://shop.example.com"' in messages[0].hint


def test_e008_shows_the_broken_links_it_prevents(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "SITE_URL": "shop.example.com"}
    [message] = check_channels()
    assert "'shop.example.com/order-updates/track/...'" in message.msg


@pytest.mark.parametrize(
    "site",
    [
        "https://shop.example.com",
        "https://shop.example.com/",
        "http://127.0.0.1:8000",
        "http://localhost:8000/",
        "http://web:8000",  # a host name without a dot (docker compose)
        "https://example.com/shop",
        "https://example.com/shop/",
        "HTTPS://Shop.Example.com",
        "https://[::1]:8443",
        "https://bücher.example",
    ],
)
def test_site_urls_that_make_working_links_pass(settings, site):
    from order_updates.notifications.links import absolute_url

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "SITE_URL": site}
    assert check_channels() == []
    assert absolute_url("/track/x/").lower().startswith(("https://", "http://"))


def test_e008_bad_site_url_without_channels(settings):
    """A value that is set is checked, even with notifications off."""
    settings.ORDER_UPDATES = {"CHANNELS": {}, "SITE_URL": "shop.example.com"}
    assert ids(check_channels()) == ["order_updates.E008"]


def test_e005_says_where_old_channel_settings_went(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "EMAIL_FROM": "shop@example.com",
        "TWILIO_ACCOUNT_SID": "AC1",
    }
    [error] = check_settings()
    assert error.id == "order_updates.E005"
    assert "EMAIL_FROM, TWILIO_ACCOUNT_SID" in error.msg
    assert "EMAIL_FROM is now the email channel's option 'from_email'" in error.hint
    assert "TWILIO_ACCOUNT_SID is now the Twilio provider's option 'account_sid'" in (
        error.hint
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("API_THROTTLE_RATES", {"customer": "lots"}),
        ("API_THROTTLE_RATES", {"guests": "1/min"}),
        ("API_THROTTLE_RATES", "120/min"),
        ("API_BULK_MAX_ORDERS", 0),
        ("WEBHOOK_DISABLE_AFTER_FAILURES", "20"),
        ("WEBHOOK_TIMEOUT", -1),
        ("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "yes"),
    ],
)
def test_api_and_webhook_settings_are_checked(settings, key, value):
    from order_updates.checks import check_api_and_webhooks

    assert check_api_and_webhooks() == []
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, key: value}
    (error,) = check_api_and_webhooks()
    assert error.id == "order_updates.E050"
    assert key in error.msg


def test_api_and_webhook_settings_accept_none_where_documented(settings):
    from order_updates.checks import check_api_and_webhooks

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": None, "staff": "5/sec"},
        "WEBHOOK_DISABLE_AFTER_FAILURES": None,
        "WEBHOOK_TIMEOUT": 2.5,
    }
    assert check_api_and_webhooks() == []


# The kind of field a key names ---------------------------------------------------


#: tests/settings.py's plainshop set-up: the checks below name its fields,
#: whichever test shop the suite runs with.
PLAINSHOP_FIELDS = {
    "items": "lines",
    "created": "created_at",
    "shipping_address": ["number", "email"],
}


@pytest.fixture
def plainshop(settings):
    settings.ORDER_UPDATES_ORDER_MODEL = "plainshop.Order"
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": PLAINSHOP_FIELDS,
        "ITEM_FIELDS": {},
    }
    assert check_field_kinds() == [] and check_status_sync() == []
    return settings


def with_order_fields(settings, **fields):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {**settings.ORDER_UPDATES["ORDER_FIELDS"], **fields},
    }


#: A text field and a number field of each test shop's order.
SHOP_TEXT_AND_NUMBER = {
    "plainshop": ("number", "total"),
    "customershop": ("reference", "amount"),
}


@pytest.mark.parametrize(
    "path, kind",
    [
        ("email", "an EmailField"),
        ("number", "a CharField"),
        ("lines", "a ManyToOneRel to plainshop.OrderLine"),  # the order's lines
        ("lines__order", "a ForeignKey to plainshop.Order"),  # not to a user
    ],
)
def test_e023_user_mapped_to_no_relation_to_the_user_model(plainshop, path, kind):
    with_order_fields(plainshop, user=path)
    messages = check_field_kinds()
    assert ids(messages) == ["order_updates.E023"]
    assert "ORDER_UPDATES['ORDER_FIELDS']['user'] names %r, %s of " % (path, kind) in (
        messages[0].msg
    )
    assert "auth.User" in messages[0].msg and "every message" in messages[0].msg
    assert "'customer__user'" in messages[0].hint and "None" in messages[0].hint


def test_e023_is_the_failure_every_message_would_have(settings, order):
    """What the check prevents: building a message's links for such an order."""
    from order_updates.models import Notification
    from order_updates.notifications.links import preferences_url

    text, _number = SHOP_TEXT_AND_NUMBER[settings.TEST_SHOP]
    with_order_fields(settings, user=text)
    with pytest.raises(AttributeError, match="'str' object has no attribute 'pk'"):
        preferences_url(Notification(order=order, channel="email"))
    assert ids(checks.run_checks()) == ["order_updates.E023"]


@pytest.mark.parametrize("path", ["user", "lines__order__user", None])
def test_user_mapped_to_a_relation_to_the_user_model_passes(plainshop, path):
    with_order_fields(plainshop, user=path)
    assert check_field_kinds() == []


def test_e023_names_a_conventional_field_too(plainshop, monkeypatch):
    """A shop whose own ``user`` is no relation: the message says where the path
    comes from, since the shop never wrote it."""
    from order_updates.core.adapter import DEFAULT_ORDER_FIELDS

    monkeypatch.setitem(DEFAULT_ORDER_FIELDS, "user", "currency")
    plainshop.ORDER_UPDATES = {**plainshop.ORDER_UPDATES, "ORDER_FIELDS": {}}
    [message] = check_field_kinds()
    assert message.id == "order_updates.E023"
    assert "The order's 'user' is read from 'currency' (its conventional name)" in (
        message.msg
    )


@pytest.mark.parametrize("key", ["total", "subtotal", "shipping", "discount", "tax"])
@pytest.mark.parametrize(
    "path, kind", [("number", "a CharField"), ("created_at", "a DateTimeField")]
)
def test_w024_amount_mapped_to_a_field_that_is_no_number(plainshop, key, path, kind):
    with_order_fields(plainshop, **{key: path})
    messages = check_field_kinds()
    assert ids(messages) == ["order_updates.W024"]
    assert "[%r] names %r, %s of plainshop.Order, not a number" % (key, path, kind) in (
        messages[0].msg
    )
    assert "DecimalField" in messages[0].hint and "None" in messages[0].hint


@pytest.mark.parametrize("key", ["unit_price", "line_total", "quantity", "price"])
def test_w026_line_number_mapped_to_a_text_field(plainshop, key):
    plainshop.ORDER_UPDATES = {**plainshop.ORDER_UPDATES, "ITEM_FIELDS": {key: "name"}}
    [message] = check_field_kinds()
    assert message.id == "order_updates.W026"
    shown = "unit_price" if key == "price" else key  # "price": unit_price's old name
    assert (
        "ORDER_UPDATES['ITEM_FIELDS'][%r] names 'name', a CharField of "
        "plainshop.OrderLine, not a number" % shown in message.msg
    )
    assert "'%s' in ORDER_UPDATES['ITEM_FIELDS']" % shown in message.hint


def test_line_numbers_that_are_numbers_or_methods_pass(plainshop):
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "ITEM_FIELDS": {
            "unit_price": "price",
            "quantity": "quantity",  # a PositiveIntegerField
            "line_total": "get_deferred_fields",  # a method: not checked
        },
    }
    assert check_field_kinds() == []


@pytest.mark.parametrize(
    "key, path",
    [
        ("total", "total"),
        ("subtotal", "discount_total"),
        ("discount", "lines"),  # a relation: not checked
        ("total", "get_next_by_created_at"),  # a method: not checked
    ],
)
def test_amounts_mapped_to_numbers_relations_or_methods_pass(plainshop, key, path):
    with_order_fields(plainshop, **{key: path})
    assert check_field_kinds() == []


@pytest.mark.parametrize(
    "key, path, kind",
    [
        ("shipping", "lines__quantity", "a PositiveIntegerField"),  # across a relation
        ("tax", "id", "a BigAutoField"),  # an AutoField is an IntegerField
    ],
)
def test_w027_amount_in_a_whole_number_field_may_be_cents(plainshop, key, path, kind):
    with_order_fields(plainshop, **{key: path})
    [message] = check_field_kinds()
    assert message.id == "order_updates.W027"
    assert "[%r] names %r, %s of plainshop.Order" % (key, path, kind) in message.msg
    assert "2740 is shown as 2,740.00 instead of 27.40" in message.msg
    assert "AMOUNTS_IN_MINOR_UNITS'] = True" in message.hint
    assert "SILENCED_SYSTEM_CHECKS" in message.hint
    # Amounts in cents, said so: nothing to warn of.
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "AMOUNTS_IN_MINOR_UNITS": True,
    }
    assert [m.id for m in check_field_kinds() if m.id == "order_updates.W027"] == []


def test_w032_minor_units_but_decimal_places(plainshop):
    # plainshop's amounts are DecimalFields with two places: units, not cents.
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "AMOUNTS_IN_MINOR_UNITS": True,
    }
    messages = check_field_kinds()
    assert set(ids(messages)) == {"order_updates.W032"}
    found = " ".join(message.msg for message in messages)
    assert "27.40 would be shown as 0.27" in found
    assert "a DecimalField of plainshop.Order" in found
    assert "a DecimalField of plainshop.OrderLine" in found


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_e026_minor_units_setting_is_a_bool(plainshop, value):
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "AMOUNTS_IN_MINOR_UNITS": value,
    }
    [message] = check_field_kinds()
    assert message.id == "order_updates.E026"
    assert "must be True or False, not %r" % (value,) in message.msg


def test_w027_line_price_in_a_whole_number_field(plainshop):
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "ITEM_FIELDS": {"unit_price": "quantity", "quantity": "quantity"},
    }
    [message] = check_field_kinds()  # the quantity itself is no amount
    assert message.id == "order_updates.W027"
    assert "['unit_price'] names 'quantity', a PositiveIntegerField" in message.msg


@pytest.mark.parametrize(
    "path, kind",
    [
        ("number", "a CharField"),
        ("total", "a DecimalField"),
        ("lines__price", "a DecimalField"),
    ],
)
def test_w025_created_mapped_to_a_field_that_is_no_date(plainshop, path, kind):
    with_order_fields(plainshop, created=path)
    messages = check_field_kinds()
    assert ids(messages) == ["order_updates.W025"]
    assert "['created'] names %r, %s" % (path, kind) in messages[0].msg
    assert "not a date" in messages[0].msg
    assert "DateTimeField" in messages[0].hint


@pytest.mark.parametrize("path", ["created_at", "lines__order__created_at", None])
def test_created_mapped_to_a_date_passes(plainshop, path):
    with_order_fields(plainshop, created=path)
    assert check_field_kinds() == []


def test_field_kinds_of_subclasses_and_generated_fields():
    """What a shop's own field classes hold decides, not their exact class."""
    from django.db import models
    from phonenumber_field.modelfields import PhoneNumberField

    from order_updates.checks import _may_hold_amount, _may_hold_date

    class MoneyField(models.DecimalField):
        pass

    class Cents(models.PositiveBigIntegerField):
        pass

    for field in [
        MoneyField(max_digits=10, decimal_places=2),
        Cents(),
        models.FloatField(),
        models.GeneratedField(
            expression=models.F("x"),
            output_field=models.DecimalField(max_digits=10, decimal_places=2),
            db_persist=True,
        ),
    ]:
        assert _may_hold_amount(field), field
    for field in [models.CharField(), models.BooleanField(), PhoneNumberField()]:
        assert not _may_hold_amount(field), field
    assert _may_hold_date(models.DateField())
    assert _may_hold_date(type("Stamp", (models.DateTimeField,), {})())
    assert not _may_hold_date(models.TimeField())
    assert not _may_hold_date(models.CharField())


@pytest.mark.parametrize(
    "field, mapping, problem",
    [
        ("total", {}, "'placed' (“placed” value must be a decimal number.)"),
        ("total", {"new": "placed"}, "'new'"),
        ("currency", {}, "'placed' (Ensure this value has at most 3 characters"),
    ],
)
def test_e024_status_field_that_cannot_hold_the_values_written(
    plainshop, field, mapping, problem
):
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "STATUS_FIELD": field,
        "STATUS_MAP": mapping,
    }
    messages = check_status_sync()
    assert ids(messages) == ["order_updates.E024"]
    assert "is %r, a" % field in messages[0].msg
    assert "which cannot hold %s" % problem in messages[0].msg
    assert "STATUS_MAP" in messages[0].hint


def test_e024_is_the_failure_of_set_status(settings, order):
    from django.core.exceptions import ValidationError

    from order_updates import services

    services.start_tracking(order)
    _text, number = SHOP_TEXT_AND_NUMBER[settings.TEST_SHOP]
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_FIELD": number,
        "STATUS_MAP": {},
    }
    assert ids(checks.run_checks()) == ["order_updates.E024"]
    with pytest.raises(ValidationError):
        services.set_status(order, "confirmed")


@pytest.mark.parametrize(
    "field, mapping",
    [
        ("state", {}),
        ("state", {"new": "placed", "sent": "shipped"}),
        ("total", {1: "placed", "2": "shipped"}),  # numbers for a number field
        ("number", {}),
    ],
)
def test_status_fields_that_hold_the_values_pass(plainshop, field, mapping):
    plainshop.ORDER_UPDATES = {
        **plainshop.ORDER_UPDATES,
        "STATUS_FIELD": field,
        "STATUS_MAP": mapping,
    }
    assert check_status_sync() == []
