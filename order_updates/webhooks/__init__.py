"""Outbound webhooks: signed events posted to the merchant's own systems.

A change's events become rows of the webhooks' outbox
(:class:`~order_updates.models.WebhookDelivery`) in the change's transaction
(:mod:`.events`); workers deliver them with the notification engine's claim,
lease, retry and sweep code (:mod:`.delivery`), signed in the Standard
Webhooks scheme (:mod:`.signing`), to addresses checked when they are saved and
again, resolved, when they are posted to (:mod:`.targets`).
"""
