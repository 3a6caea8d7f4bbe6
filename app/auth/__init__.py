"""Authentication and permissions: bearer tokens, role assignments and ``require(...)``, all in one place."""

from app.auth.core import current_user, issue_access_token, optional_user, require
from app.auth.models import RoleAssignment

__all__ = ["RoleAssignment", "current_user", "issue_access_token", "optional_user", "require"]
