"""Authentication and permissions: tokens and sessions, logins, role assignments and ``require(...)``."""

from app.auth.core import current_session_id, current_user, issue_access_token, optional_user, require
from app.auth.linking import holds_data, register_data_check
from app.auth.models import RoleAssignment

__all__ = [
    "RoleAssignment",
    "current_session_id",
    "current_user",
    "holds_data",
    "issue_access_token",
    "optional_user",
    "register_data_check",
    "require",
]
