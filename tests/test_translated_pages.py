"""The shipped catalogs reach the pages: a customer's order page and the merchant's
status form speak German and French when that language is active.

tests/test_translations.py checks the catalogs themselves (complete, compiled,
placeholders kept); here the strings are looked up as the pages look them up.
"""

import pytest
from django.urls import reverse
from django.utils import translation

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import OrderEvent
from tests.test_admin_orders import admin_url

UPS_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784"

#: What the order page says in each language, for a shipped order.
ORDER_PAGE = {
    "de": [
        "Bestellung Nr. %(number)s",
        "Alle meine Bestellungen",
        "Bestellt am",
        ">Versandt<",  # the status badge
        "Paket an UPS übergeben",
        "Sendungsnummer",
        "Versandt am",
        "Paket auf der Website von UPS verfolgen",
        "Gesamtsumme",
        "(aktueller Schritt)",
    ],
    "fr": [
        "Commande %(number)s",
        "Toutes mes commandes",
        "Passée le",
        ">Expédiée<",
        "Colis remis à UPS",
        "Numéro de suivi",
        "Expédié le",
        "Suivre le colis sur le site de UPS",
        "(étape en cours)",
    ],
}


@pytest.mark.parametrize("language", ["de", "fr"])
def test_the_order_page_speaks_the_customers_language(
    client, django_user_model, make_order, language
):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    client.force_login(user)
    order = make_order(user=user)
    services.start_tracking(order)
    services.set_status(order, "processing")
    services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        tracking_url=UPS_URL,
        status="shipped",
    )
    number = get_adapter().get_number(order)
    with translation.override(language):
        response = client.get(reverse("order_updates:order", args=[number]))
    assert response.status_code == 200
    content = response.content.decode()
    for expected in ORDER_PAGE[language]:
        assert expected % {"number": number} in content, expected
    # Nothing of the page is left in English.
    # ("Total" is French too.)
    for english in ["All my orders", "Parcel handed to", "Tracking number"]:
        assert english not in content, english


def test_the_status_form_speaks_german_to_the_merchant(
    client, django_user_model, order
):
    merchant = django_user_model.objects.create_superuser(
        "boss", "boss@example.com", "pw"
    )
    client.force_login(merchant)
    services.start_tracking(order)
    url = admin_url("order_updates_status", order.pk)
    with translation.override("de"):
        form = client.get(url).content.decode()
        assert "Aktueller Status:" in form
        assert 'value="Vorschau"' in form
        assert "Nachricht an den Kunden" in form
        assert "Kunden benachrichtigen" in form
        preview = client.post(
            url,
            {
                "status": "confirmed",
                "current": "placed",
                "message": "Wir legen los.",
                "note": "VIP",
                "notify": "on",
                "_preview": "Vorschau",
            },
        ).content.decode()
        assert "Den Status von „Aufgegeben“ auf „Bestätigt“ ändern." in preview
        assert "Interne Notiz: VIP" in preview
        assert 'value="Änderung bestätigen"' in preview
        done = client.post(
            url,
            {
                "status": "confirmed",
                "current": "placed",
                "message": "Wir legen los.",
                "notify": "",
                "_confirm": "1",
            },
            follow=True,
        ).content.decode()
        assert "Der Status ist jetzt „Bestätigt“." in done
    assert OrderEvent.objects.filter(order_id=order.pk, to_status="confirmed").exists()


def test_one_parcel_has_its_own_entry_beside_the_plural():
    """shipment.html asks for "Parcel" alone, shipments.html with its plural.
    Python 3.10's gettext does not fall back from a singular lookup to a plural
    entry, so the single use has an entry of its own (context "one parcel")."""
    with translation.override("de"):
        assert translation.pgettext("one parcel", "Parcel") == "Paket"
        assert translation.ngettext("Parcel", "Parcels", 2) == "Pakete"
    with translation.override("fr"):
        assert translation.pgettext("one parcel", "Parcel") == "Colis"
        assert translation.ngettext("Parcel", "Parcels", 2) == "Colis"
