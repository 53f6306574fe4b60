"""order_updates: keep shoppers informed about their orders."""

__version__ = "0.1.0"
