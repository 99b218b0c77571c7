"""Passwords and access tokens.

- Passwords are hashed with argon2id (pwdlib). A new password has at least ``MIN_PASSWORD_CHARS``
  characters and is not a common one (NIST SP 800-63B §3.1.1.2): not in the list of common passwords,
  not a common word with digits or symbols around it, not one character repeated or a run of a
  keyboard row or of digits, and not the username or the email's local part.
- Access tokens are JWTs (HS256) carrying the user's id, its ``token_version`` (raised on a password
  change, so older tokens stop working) and an expiry; the secret is ``DRAMAFLOW_SECRET_KEY``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # hashing cost stays bounded
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
ALGORITHM = "HS256"
ISSUER = "dramaflow"
SEQUENCES = ("0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")
LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})

_hasher = PasswordHash((Argon2Hasher(),))  # argon2id, 64 MiB and 3 passes per hash
# Each hash takes 64 MiB: a burst of sign-ins waits here instead of taking gigabytes of memory.
_hashing = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-password-of-anyone")


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches. Without a hash (no such user, or a user with API keys only) a
    dummy hash is checked all the same, so that the answer takes as long either way."""
    target = password_hash or _dummy_hash()
    with _hashing:
        matches = _hasher.verify(password, target)
    return matches and bool(password_hash)


@lru_cache(maxsize=4)
def common_passwords(path: Path = COMMON_PASSWORDS) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, *context: str | None, extra_list: Path | None = None) -> str | None:
    """Why ``password`` may not be used (a sentence that says what to do), or None. ``context``: the
    username and email, which a password must not be built on."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"use at least {MIN_PASSWORD_CHARS} characters (a few unrelated words make a good password)"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"use at most {MAX_PASSWORD_CHARS} characters"
    lowered = password.lower()
    common = common_passwords() | (common_passwords(extra_list) if extra_list else frozenset())
    # the word inside: symbols and digits around it removed, l33t spellings undone (p@ssw0rd1! → password,
    # $unshine!! → sunshine)
    trailing = re.sub(r"[\W\d_]+$", "", lowered)
    cores = {re.sub(r"^[\W\d_]+", "", trailing).translate(LEET), re.sub(r"^[\W\d_]+", "", trailing.translate(LEET))}
    if lowered in common or any(core in common or core.rstrip("s") in common for core in cores if core):
        return "this password is among the most common ones; choose one that is not"
    if len(set(lowered)) <= 2 or any(lowered in s or lowered in s[::-1] or lowered in s * 2 for s in SEQUENCES):
        return "a repeated character or a run of keys is guessed at once; choose something else"
    for word in context:
        word = (word or "").lower().split("@")[0]
        if len(word) >= 4 and word in lowered:
            return "the password must not contain your username or email; choose something else"
    return None


# --- tokens ----------------------------------------------------------------------------------------


class InvalidToken(Exception):
    """The token is malformed, tampered with, signed with another secret, or expired."""


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


def issue_token(user_id: int, token_version: int, secret: str, expires_in_s: int, now: float | None = None,
                kind: str = "access") -> AccessToken:
    """A signed token of ``kind``: ``access`` (for ``Authorization: Bearer``) or ``refresh`` (kept in an
    HttpOnly cookie by the studio, traded for access tokens at ``/auth/refresh``)."""
    now = time.time() if now is None else now
    claims = {"sub": str(user_id), "ver": token_version, "iat": int(now), "exp": int(now) + expires_in_s,
              "iss": ISSUER, "typ": kind}
    return AccessToken(jwt.encode(claims, secret, algorithm=ALGORITHM), expires_in_s)


def read_token(token: str, secret: str, kind: str = "access") -> tuple[int, int]:
    """The (user id, token version) a valid token of ``kind`` carries; ``InvalidToken`` otherwise (a
    refresh token is no access token, and the other way round)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        if claims.get("typ", "access") != kind:
            raise InvalidToken(f"not an {kind} token")
        return int(claims["sub"]), int(claims.get("ver", 0))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from None
