"""Optional integrations with other Django apps, each behind its own extra."""
