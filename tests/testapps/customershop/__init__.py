"""A shop whose order ("Purchase") reaches email and phone through a Customer."""
