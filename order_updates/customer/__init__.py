"""Customer pages: my orders, the order page, the public tracking page and the
lookup form, and the template tags that put their parts on a shop's own pages.

Include them with ``order_updates.urls`` (see docs/customer_pages.rst).
"""
