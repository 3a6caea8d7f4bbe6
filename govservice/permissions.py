"""Who may do what in govservice, registered with ``app.auth.scopes`` (checked on the centre, a region's entity)."""

from __future__ import annotations

from app.auth.scopes import register_action

#: Edit a centre, its rules, windows, sessions, closures and guides; publish guides.
MANAGE = "govservice.manage"
#: Work the desk: the day's bookings, check-in (取号), served, no-show, cancel with a reason, lift a suspension.
DESK = "govservice.desk"

register_action(MANAGE, ("admin", "staff"))
register_action(DESK, ("admin", "staff"))

#: Online applications (办件), centre staff: 预审, 受理/不予受理, 补正, dispatch, 办结 without departments.
APPLICATION_REVIEW = "govservice.application.review"
#: See an application: centre staff, and the handlers and heads of a department it was routed to.
APPLICATION_READ = "govservice.application.read"
#: Start or end a 特别程序 (centre staff, or a routed department's head).
APPLICATION_SPECIAL = "govservice.application.special"
#: Application statistics of a centre, with numerators and denominators.
APPLICATION_STATS = "govservice.application.stats"

register_action(APPLICATION_REVIEW, ("admin", "staff"))
register_action(APPLICATION_READ, ("admin", "staff", "handler", "head"))
register_action(APPLICATION_SPECIAL, ("admin", "staff", "head"))
register_action(APPLICATION_STATS, ("admin", "staff"))
