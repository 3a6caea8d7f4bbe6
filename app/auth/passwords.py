"""Username and password logins (staff, vendors, providers): scrypt hashes, failures counted per username in
PostgreSQL, lockout after 5 in a row for 15 minutes; setting a password (CLI) and changing one's own."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from werkzeug.security import check_password_hash, generate_password_hash

from app import audit
from app.accounts.models import User
from app.auth import errors
from app.auth.models import LoginMethod, PasswordFailure
from app.auth.sessions import Tokens, login, revoke_user_sessions
from app.db import atomic, utcnow
from app.extensions import db

log = logging.getLogger(__name__)

PASSWORD_MAX_FAILURES = 5
PASSWORD_LOCKOUT = timedelta(minutes=15)
#: Namespace for pg_advisory_xact_lock(namespace, key): one password try at a time per username.
_LOCK_PASSWORD = 7302


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def normalise_username(raw: str) -> str:
    return raw.strip().lower()


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


def _character_kinds(password: str) -> int:
    """How many of letters (any script), digits and everything else (symbols, spaces) the password uses."""
    letters = any(char.isalpha() for char in password)
    digits = any(char.isdigit() for char in password)
    others = any(not char.isalnum() for char in password)
    return letters + digits + others


def check_password_strength(password: str) -> None:
    """10 to 128 characters, using at least two of letters, digits and symbols (a space counts as a symbol, so a
    passphrase of words is fine; ``12345678901`` and ``abcdefghijk`` are not).

    :raises PasswordTooWeak:
    """
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH or _character_kinds(password) < 2:
        raise errors.PasswordTooWeak(details={"min_length": PASSWORD_MIN_LENGTH, "max_length": PASSWORD_MAX_LENGTH})


def _record_password_failure(username: str, now: datetime) -> errors.APIError:
    stale = sa.or_(
        PasswordFailure.last_failed_at < now - PASSWORD_LOCKOUT,
        PasswordFailure.locked_until <= now,
    )
    failures = db.session.execute(
        pg_insert(PasswordFailure)
        .values(username=username, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=[PasswordFailure.username],
            set_={
                "failures": sa.case((stale, 1), else_=PasswordFailure.failures + 1),
                "last_failed_at": now,
                "locked_until": None,
            },
        )
        .returning(PasswordFailure.failures)
    ).scalar()
    if failures >= PASSWORD_MAX_FAILURES:
        db.session.execute(
            sa.update(PasswordFailure)
            .where(PasswordFailure.username == username)
            .values(locked_until=now + PASSWORD_LOCKOUT)
        )
        log.warning("password login locked for 15 minutes after %s failures", failures)
        return errors.LoginLocked(retry_after=int(PASSWORD_LOCKOUT.total_seconds()))
    return errors.InvalidCredentials(details={"remaining_attempts": PASSWORD_MAX_FAILURES - failures})


def password_login(raw_username: str, password: str) -> Tokens:
    """Sign a staff, vendor or provider account in. Failures are counted per username, existing or not, so neither
    the message nor the lockout tells which usernames exist.

    :raises InvalidCredentials: wrong username or password (``details.remaining_attempts``).
    :raises LoginLocked: 5 failures in a row; locked for 15 minutes (``Retry-After``).
    """
    username = normalise_username(raw_username)
    with atomic():
        # One try at a time per username, so every failure counts.
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_PASSWORD, sa.func.hashtext(username))))
        now = utcnow()
        locked_until = db.session.scalar(
            sa.select(PasswordFailure.locked_until).where(
                PasswordFailure.username == username, PasswordFailure.locked_until > now
            )
        )
        if locked_until is not None:
            failure: errors.APIError = errors.LoginLocked(retry_after=int((locked_until - now).total_seconds()) + 1)
        else:
            user = db.session.scalar(sa.select(User).where(User.username == username))
            stored = user.password_hash if user is not None and user.password_hash else None
            # An unknown username costs the same hash as a known one.
            matches = check_password_hash(stored or _dummy_hash(), password) and stored is not None
            if matches:
                db.session.execute(sa.delete(PasswordFailure).where(PasswordFailure.username == username))
                return login(user, LoginMethod.password)
            failure = _record_password_failure(username, now)
    raise failure


def set_password(
    username: str, password: str, *, user: User | None = None, display_name: str | None = None, reason: str
) -> User:
    """Give an account a username and password (creating the account when ``user`` is None); every session of
    the account is revoked. Audited.

    :raises PasswordTooWeak:
    :raises UsernameTaken:
    """
    username = normalise_username(username)
    check_password_strength(password)
    with atomic():
        holder = db.session.scalar(sa.select(User).where(User.username == username).with_for_update())
        if user is None:
            user = holder
        if holder is not None and holder.id != user.id:
            raise errors.UsernameTaken()
        if user is None:
            user = User(display_name=display_name or username)
            db.session.add(user)
        user.username = username
        user.password_hash = generate_password_hash(password)
        if display_name:
            user.display_name = display_name
        db.session.flush()
        revoke_user_sessions(user.id, reason="password_set")
        db.session.execute(sa.delete(PasswordFailure).where(PasswordFailure.username == username))
        audit.record("auth.password_set", target=("user", user.public_id), after={"username": username}, reason=reason)
        return user


def change_password(user: User, session_public_id: str, old_password: str, new_password: str) -> None:
    """Change one's own password; every other session of the account is revoked, the current one stays signed in.

    A wrong current password counts as a failed login for the username (and the lockout refuses changes too), so a
    stolen access token cannot be used to guess the password faster than the login form allows.

    :raises PasswordNotSet: the account signs in by WeChat or SMS only.
    :raises PasswordIncorrect: the current password is wrong (``details.remaining_attempts``).
    :raises LoginLocked: too many wrong passwords for this username (``Retry-After``).
    :raises PasswordTooWeak:
    :raises PasswordUnchanged: the new password is the current one.
    """
    with atomic():
        username = db.session.scalar(sa.select(User.username).where(User.id == user.id))
        if not username:
            raise errors.PasswordNotSet()
        # The username's lock before the account row, in the order password_login takes them (no deadlock).
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_PASSWORD, sa.func.hashtext(username))))
        locked = db.session.scalar(
            sa.select(User).where(User.id == user.id).with_for_update().execution_options(populate_existing=True)
        )
        if locked.username != username or not locked.password_hash:
            raise errors.PasswordNotSet()
        now = utcnow()
        locked_until = db.session.scalar(
            sa.select(PasswordFailure.locked_until).where(
                PasswordFailure.username == username, PasswordFailure.locked_until > now
            )
        )
        failure: errors.APIError | None = None
        if locked_until is not None:
            failure = errors.LoginLocked(retry_after=int((locked_until - now).total_seconds()) + 1)
        elif not check_password_hash(locked.password_hash, old_password):
            failure = _record_password_failure(username, now)
            if isinstance(failure, errors.InvalidCredentials):
                failure = errors.PasswordIncorrect(details=failure.details)
        else:
            check_password_strength(new_password)
            if new_password == old_password:
                raise errors.PasswordUnchanged()
            locked.password_hash = generate_password_hash(new_password)
            db.session.execute(sa.delete(PasswordFailure).where(PasswordFailure.username == username))
            revoked = revoke_user_sessions(locked.id, reason="password_changed", keep=session_public_id)
            audit.record(
                "auth.password_changed",
                actor=locked,
                target=("user", locked.public_id),
                after={"other_sessions_revoked": len(revoked)},
            )
            log.info("user %s changed their password (%s other sessions revoked)", locked.id, len(revoked))
            return
    # The failure is committed (counted) before the error goes out.
    raise failure
