"""How order_updates sees the demo shop's orders.

The default adapter reads the fields named in ``ORDER_UPDATES["ORDER_FIELDS"]``;
this subclass adds the one thing it cannot guess: where a customer sees an order.
"""

from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.notifications.links import absolute_url

from .access import order_page_path


class DemoOrderAdapter(DefaultOrderAdapter):
    def get_order_url(self, order):
        """The order page, absolute, for links in emails and texts.

        Customers' links lead to the page as is (it asks them to log in); guests
        have no login, so theirs carry a signed key that opens the page.
        """
        return absolute_url(order_page_path(order, with_key=order.customer_id is None))
