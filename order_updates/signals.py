"""Signals sent by order_updates.

Every signal is sent only after the transaction that made the change has
committed: a rolled-back change sends nothing. ``sender`` is the shop's order
model class. ``actor`` is a user, a label such as ``"system"``, or None.
"""

from django.dispatch import Signal

#: Sent when an order gets its first status (checkout, or an old order adopted).
#: provides args: order, event, status, actor
order_tracking_started = Signal()

#: Sent after a status change is committed, once per changed order (bulk too).
#: provides args: order, event, old_status, new_status, actor, notify
order_status_changed = Signal()

#: Sent after a note is added to an order's timeline.
#: provides args: order, event, public, actor
order_note_added = Signal()

#: Sent after a shipment is added to an order.
#: provides args: order, shipment, event, actor, notify
shipment_added = Signal()
