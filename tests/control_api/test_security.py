"""Passwords and access tokens (control_api/security.py) and the secret that signs them."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from control_api import security
from control_api.settings import ServiceSettings

SECRET = "s" * 48


@pytest.mark.parametrize("password", ["violet harbour lantern", "Tr0ub4dor&3-and-more", "一二三四五六七八九十字"])
def test_good_passwords_pass(password):
    assert security.password_problem(password, "mara", "mara@example.org") is None


@pytest.mark.parametrize(("password", "needle"), [
    ("nine char", "at least 10"), ("x" * 257, "at most"), ("iloveyou123", "common"), ("Welcome2026!", "common"),
    ("$unshine!!!", "common"), ("qwertyuiop", "common"), ("0987654321", "common"), ("7890123456", "run of keys"),
    ("abababababab", "repeated"), ("mara-the-great-99", "username"), ("harbourmaster!", "email"),
])
def test_weak_passwords_name_their_weakness(password, needle):
    problem = security.password_problem(password, "mara", "harbour@example.org")
    assert problem is not None and needle in problem


def test_an_operator_list_adds_to_the_common_passwords(tmp_path):
    extra = tmp_path / "more.txt"
    extra.write_text("# ours\nCorrect Horse Staple\n", encoding="utf-8")
    assert security.password_problem("correct horse staple", extra_list=extra) is not None
    assert security.password_problem("correct horse staple") is None


def test_hashes_are_argon2id_and_verify(monkeypatch):
    stored = security.hash_password("violet harbour lantern")
    assert stored.startswith("$argon2id$") and "violet" not in stored
    assert security.verify_password("violet harbour lantern", stored)
    assert not security.verify_password("violet harbour lanterN", stored)


def test_an_unknown_user_costs_one_hash_check_like_a_known_one(monkeypatch):
    checked = []
    real = security._hasher.verify
    monkeypatch.setattr(security._hasher, "verify", lambda pw, h: checked.append(h) or real(pw, h))
    assert security.verify_password("anything at all", None) is False
    assert security.verify_password("anything at all", security.hash_password("other password 1")) is False
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)


def test_tokens_carry_the_user_and_version_and_expire():
    token = security.issue_token(7, 3, SECRET, 60)
    assert security.read_token(token.token, SECRET) == (7, 3) and token.expires_in == 60
    expired = security.issue_token(7, 3, SECRET, 60, now=time.time() - 61).token
    claims = jwt.decode(token.token, options={"verify_signature": False})
    for bad in (expired, security.issue_token(7, 3, "t" * 48, 60).token, jwt.encode(claims, None, algorithm="none"),
                jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"),
                jwt.encode(claims | {"iss": "elsewhere"}, SECRET, algorithm="HS256"), token.token + "x", ""):
        with pytest.raises(security.InvalidToken):
            security.read_token(bad, SECRET)


@pytest.mark.parametrize(("secret", "needle"), [("CHANGE-ME", "placeholder"), ("short", "32 characters")])
def test_placeholder_and_short_secrets_are_refused(secret, needle):
    with pytest.raises(ValidationError, match=needle):
        ServiceSettings(secret_key=secret)


def test_without_a_secret_each_process_signs_with_a_random_one():
    a, b = ServiceSettings(), ServiceSettings()
    assert a.token_secret == a.token_secret and a.token_secret != b.token_secret and len(a.token_secret) >= 32
    assert ServiceSettings(secret_key=SECRET).token_secret == SECRET
