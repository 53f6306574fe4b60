"""Signals sent by order_updates.

Order signals are sent only after the transaction that made the change has
committed: a rolled-back change sends nothing. Their ``sender`` is the shop's
order model class; ``actor`` is a user, a label such as ``"system"``, or None.
Notification signals are sent with the Notification class as ``sender``.
"""

from django.dispatch import Signal

#: Sent when an order gets its first status: start_tracking(), a first change on
#: an untracked order, or a bulk change that meets one (not when
#: track_existing_orders() adopts a back catalogue: nothing happened to those).
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

#: Sent after a shipment is changed (update_shipment()).
#: provides args: order, shipment, event, changed (field → [old, new]), actor, notify
shipment_updated = Signal()

#: Sent after a delay or a delivery problem is recorded.
#: provides args: order, event, issue ("delayed" or "exception"), actor, notify
delivery_issue_reported = Signal()

#: Sent after notification rows are committed to the outbox, once per row.
#: provides args: notification
notification_queued = Signal()

#: Sent when a provider accepted a notification.
#: provides args: notification, result (channels.base.SendResult)
notification_sent = Signal()

#: Sent when a notification failed for good (after its last retry, or at once
#: for a permanent error), or bounced.
#: provides args: notification, error (str)
notification_failed = Signal()

#: Sent when the provider reports the notification delivered.
#: provides args: notification
notification_delivered = Signal()

#: Sent after a shipment's normalized tracking status changed (carrier scans).
#: provides args: order, shipment, event, old_status, new_status, scans
tracking_updated = Signal()

#: Sent after a shipment was found stuck (no scan for too long): an alert for
#: staff; connect it to your chat or email.
#: provides args: order, shipment, event, days
shipment_stuck = Signal()

#: Sent after an order was found too long in its status: an alert for staff.
#: provides args: order, event, status, days
status_overdue = Signal()
