"""A shop whose order carries user, email and phone itself (the common shape)."""
