"""The status core: the adapter, and the services that change an order."""
