"""Working-day calendar endpoints (filled in by the calendar work)."""

from app.api import Blueprint

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar", description="工作日历")
