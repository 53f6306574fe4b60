"""Notifications: types, the outbox, delivery, feedback and customer choice."""
