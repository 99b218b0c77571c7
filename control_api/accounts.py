"""People and their API keys.

A user is a person (password → access token) or a machine client (API keys only, no password); both
may hold any number of API keys. Keys are 256-bit random tokens; only their SHA-256 is stored (a slow
hash adds nothing for keys this long), and deleting the row revokes the key at the next request.
Usernames and emails are unique whatever their case; a race between two registrations of one name is
settled by the unique index (the loser's commit raises ``sqlalchemy.exc.IntegrityError``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from control_api import credits, security
from control_api.db import ApiKey, User, UserRole, UserStatus, utcnow

KEY_PREFIX = "dfk_"
LAST_USED_EVERY = timedelta(minutes=1)  # a key's last use is written at most this often
MAX_KEYS_PER_USER = 50


class AccountExists(Exception):
    """The username or the email is taken."""

    def __init__(self, field: str) -> None:
        super().__init__(f"that {field} is taken; choose another or sign in")
        self.field = field


class TooManyKeys(Exception):
    """The user holds ``MAX_KEYS_PER_USER`` keys already."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def by_login(session: Session, login: str) -> User | None:
    """The user whose username or email is ``login`` (case does not matter)."""
    login = login.strip().lower()
    return session.exec(select(User).where(sa.or_(sa.func.lower(User.username) == login,
                                                  sa.func.lower(User.email) == login))).first()


def taken(session: Session, username: str | None, email: str | None) -> str | None:
    """Which of ``username`` and ``email`` another user has ("username", "email"), or None."""
    if username and session.exec(select(User.id).where(sa.func.lower(User.username) == username.lower())).first():
        return "username"
    if email and session.exec(select(User.id).where(sa.func.lower(User.email) == email.lower())).first():
        return "email"
    return None


def register(session: Session, username: str, email: str, password: str, welcome_credits: int = 0) -> User:
    """A new person (flushed; the caller commits). ``AccountExists`` when the name or email is taken."""
    clash = taken(session, username, email)
    if clash:
        raise AccountExists(clash)
    user = User(username=username, email=email.lower(), password_hash=security.hash_password(password))
    session.add(user)
    session.flush()
    if welcome_credits:
        credits.add(session, user, welcome_credits, "grant", "welcome credits")
    return user


def create_user(session: Session, username: str, *, email: str | None = None, password: str | None = None,
                role: UserRole = UserRole.user, key_name: str = "default") -> tuple[User, str]:
    """A user made by an operator (``dramaflow users create``) and its first API key (shown once)."""
    clash = taken(session, username, email)
    if clash:
        raise ValueError(f"a user with that {clash} exists already")
    user = User(username=username, email=email.lower() if email else None, role=role,
                password_hash=security.hash_password(password) if password else None)
    session.add(user)
    session.flush()
    _, key = create_key(session, user.id, key_name)
    return user, key


def create_key(session: Session, user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new API key: the row and the key itself, which is not stored (the caller shows it once)."""
    count = session.exec(select(sa.func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)).one()
    if count >= MAX_KEYS_PER_USER:
        raise TooManyKeys(f"you hold {count} keys, the most one account may; delete one you no longer use")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(user_id=user_id, name=name, key_hash=hash_key(key), prefix=key[:10])
    session.add(row)
    session.flush()
    return row, key


def keys_of(session: Session, user_id: int) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)).all())


def revoke_key(session: Session, user_id: int, key_id: int) -> bool:
    """Delete the user's key ``key_id``; False when the user has no such key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id:
        return False
    session.delete(row)
    return True


def by_key(session: Session, key: str) -> User | None:
    """The user holding API key ``key`` (its last use noted, at most once a minute), or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        row.last_used_at = now
        session.add(row)
        session.commit()
    return session.get(User, row.user_id)


def by_token(session: Session, token: str, secret: str, kind: str = "access") -> User | None:
    """The user a token stands for, if it is valid and issued since the last password change."""
    try:
        user_id, version = security.read_token(token, secret, kind)
    except security.InvalidToken:
        return None
    user = session.get(User, user_id)
    return user if user is not None and user.token_version == version else None


def can_sign_in(user: User) -> bool:
    return user.status != UserStatus.banned


def set_password(session: Session, user: User, password: str) -> None:
    """Replace the password; every access token issued before stops working."""
    user.password_hash = security.hash_password(password)
    user.token_version += 1
    user.updated_at = utcnow()
    session.add(user)


def set_status(session: Session, user: User, status: UserStatus, reason: str | None) -> None:
    user.status, user.status_reason, user.updated_at = status, reason, utcnow()
    session.add(user)
