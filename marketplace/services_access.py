"""Scoped actions of service listings and bookings, over the ``vendor`` scope kind (see ``marketplace.access``).

A courier holds the technician's role: over bookings it reaches only those assigned to it (404 for the rest, see
``services_bookings.order_for_vendor``); owner and clerk see all of the vendor's bookings.
"""

from app.auth.scopes import register_action

#: Roles that see and dispatch every booking of their vendor; a courier (technician) sees its own assignments.
DISPATCHERS = frozenset({"owner", "clerk"})

for _action, _roles in {
    "marketplace.service.manage": ("owner",),  # list services, set call-out fees and prices, shelve
    "marketplace.service.read": ("owner", "clerk", "courier"),  # the vendor's listings, on shelf or not
    "marketplace.booking.read": ("owner", "clerk", "courier"),  # couriers: only their own assignments
    "marketplace.booking.dispatch": ("owner", "clerk"),  # accept naming the technician, decline, reassign
    "marketplace.booking.work": ("owner", "clerk", "courier"),  # depart, arrive, quote, complete
}.items():
    register_action(_action, _roles)
