"""Carriers and tracking: the carrier registry, tracking-number detection, inbound
tracking webhooks (one module per provider), and the periodic checks for late,
stuck and overdue orders.

The package sits between the status core, whose services it calls, and
notifications, whose templates show carrier names and links from its registry.
"""
