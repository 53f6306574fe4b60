from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The demo shop: products, a session cart, checkout and orders."""

    name = "shop"
    verbose_name = "Demo shop"
    default_auto_field = "django.db.models.BigAutoField"
