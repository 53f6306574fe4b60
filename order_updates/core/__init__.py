"""The status core: pipeline, adapter, and the services that change an order."""
