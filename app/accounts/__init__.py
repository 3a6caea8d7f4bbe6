"""Accounts: users (and, with the identity work, residents, households and delegations)."""

from app.accounts.models import User

__all__ = ["User"]
