"""A django-oscar shop with order_updates, as docs/oscar.rst sets it up."""
