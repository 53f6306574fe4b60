"""Inbound tracking webhooks: a base view and one module per provider.

Each provider's view checks the request's signature on the raw body, parses the
payload into :class:`TrackingUpdate` objects, and hands them to
:func:`order_updates.services.record_tracking_events`. Include
``order_updates.carriers.urls`` and configure ``ORDER_UPDATES["TRACKING_WEBHOOKS"]``.
"""
