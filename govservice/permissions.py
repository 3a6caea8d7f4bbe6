"""Who may do what in govservice, registered with ``app.auth.scopes`` (checked on the centre, a region's entity)."""

from __future__ import annotations

from app.auth.scopes import register_action

#: Edit a centre, its rules, windows, sessions, closures and guides; publish guides.
MANAGE = "govservice.manage"
#: Work the desk: the day's bookings, check-in (取号), served, no-show, cancel with a reason, lift a suspension.
DESK = "govservice.desk"

register_action(MANAGE, ("admin", "staff"))
register_action(DESK, ("admin", "staff"))
