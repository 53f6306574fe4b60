"""The baseline: what a shop without order_updates writes and sends itself."""
