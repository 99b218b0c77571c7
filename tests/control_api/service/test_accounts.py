"""Accounts against the real service (API process, PostgreSQL, Redis, workers): sign-up, sign-in,
tokens, API keys per person, the visible ledger, roles and statuses, and what stays invisible to others."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from sqlmodel import select

from control_api import accounts
from control_api.api.routes.auth import LoginThrottle
from control_api.db import Audio, UserRole, session_scope
from control_api.security import issue_token
from tests.control_api.service.conftest import Account, events, final_status, running_api, script

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
SECRET = "test-secret-" + "x" * 40
WELCOME = 100
MAX_FAILURES = 3
PASSWORD = "violet harbour lantern"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def voices_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("voices") / "voices.yaml"
    path.write_text((Path(__file__).parents[3] / "voices.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def api(settings, tmp_path_factory, voices_file):
    env = {"DRAMAFLOW_SECRET_KEY": SECRET, "DRAMAFLOW_WELCOME_CREDITS": str(WELCOME),
           "DRAMAFLOW_LOGIN_MAX_FAILURES": str(MAX_FAILURES), "DRAMAFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS": "10000",
           "DRAMAFLOW_VOICES_FILE": str(voices_file)}
    with running_api(settings, tmp_path_factory.mktemp("accounts-api"), **env) as (url, _):
        yield url


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api, timeout=120) as c:
        yield c


def register(client, name: str | None = None, password: str = PASSWORD, email: str | None = None) -> httpx.Response:
    name = name or f"p{uuid.uuid4().hex[:10]}"
    return client.post("/api/v1/auth/register", json={"username": name, "email": email or f"{name}@example.org",
                                                      "password": password})


def login(client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/login", data={"username": username, "password": password})


def person(client) -> tuple[dict, dict[str, str]]:
    """A registered, signed-in person: (their user record, headers with their token)."""
    user = register(client).json()
    token = login(client, user["username"]).json()["access_token"]
    return user, {"Authorization": f"Bearer {token}"}


def admin_headers(settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        _, key = accounts.create_user(session, f"admin-{uuid.uuid4().hex[:8]}", role=UserRole.admin)
    return {"Authorization": f"Bearer {key}"}


def test_register_sign_in_submit_with_the_token_and_see_the_charge_in_the_ledger(client, workers):
    workers.start()
    name = f"Mara{uuid.uuid4().hex[:6]}"
    created = register(client, name)
    assert created.status_code == 201, created.text
    user = created.json()
    assert {k: user[k] for k in ("username", "email", "role", "status", "credit_balance", "total_credit_purchased")} == {
        "username": name, "email": f"{name.lower()}@example.org", "role": "user", "status": "active",
        "credit_balance": WELCOME, "total_credit_purchased": 0}
    assert "password" not in created.text and "hash" not in created.text

    by_name, by_email = login(client, name.upper()), login(client, f"{name}@EXAMPLE.org")
    assert by_name.status_code == by_email.status_code == 200
    body = by_name.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], issuer="dramaflow")
    assert claims["sub"] == str(user["id"]) and claims["exp"] - claims["iat"] == 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/users/me", headers=headers).json() == user

    estimate = client.post("/api/v1/tasks/estimate", json={"script": script(4)}, headers=headers).json()
    assert estimate["sufficient"] and estimate["available"] == WELCOME and estimate["minimax_characters"] == 0
    assert client.get("/api/v1/tasks", headers=headers).json()["total"] == 0  # an estimate queues nothing

    task = client.post("/api/v1/tasks", json={"script": script(4)}, headers=headers).json()
    assert task["credit_cost"] == estimate["credits"] and task["chars"] == estimate["chars"]
    assert client.get("/api/v1/credits", headers=headers).json() == {
        "balance": WELCOME, "reserved": task["credit_cost"], "available": WELCOME - task["credit_cost"],
        "total_purchased": 0}
    done = final_status(client, Account(name, body["access_token"], user["id"]), task)
    assert done["status"] == "completed", done
    assert client.get("/api/v1/credits", headers=headers).json() == {
        "balance": WELCOME - done["credit_cost"], "reserved": 0, "available": WELCOME - done["credit_cost"],
        "total_purchased": 0}
    ledger = client.get("/api/v1/credits/transactions", headers=headers).json()
    assert ledger["total"] == 2
    charge, welcome = ledger["items"]  # newest first
    assert (charge["type"], charge["amount"], charge["balance_after"], charge["reference"]) == (
        "audio_generation", -done["credit_cost"], WELCOME - done["credit_cost"], task["id"])
    assert (welcome["type"], welcome["amount"], welcome["balance_after"]) == ("grant", WELCOME, WELCOME)
    page = client.get("/api/v1/credits/transactions?limit=1&offset=1", headers=headers).json()
    assert [r["id"] for r in page["items"]] == [welcome["id"]]


def test_tampered_expired_foreign_and_outdated_tokens_get_401(client):
    user, headers = person(client)
    token = headers["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    forged_claims = jwt.decode(token, options={"verify_signature": False}) | {"sub": "1"}
    forged = jwt.encode(forged_claims, "a-different-secret-of-at-least-32-bytes!", algorithm="HS256")
    unsigned = jwt.encode(forged_claims, None, algorithm="none")
    expired = issue_token(user["id"], 0, SECRET, 60, now=time.time() - 3600).token
    tampered = f"{head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    for bad in (tampered, forged, unsigned, expired, token[:-3], "not.a.token"):
        response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM, bad
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200

    # a new password ends every token issued before it
    new_password = "quiet copper meadow 7"
    wrong = client.patch("/api/v1/users/me", json={"password": new_password, "current_password": "nope nope nope"},
                         headers=headers)
    assert wrong.status_code == 403
    changed = client.patch("/api/v1/users/me", json={"password": new_password, "current_password": PASSWORD},
                           headers=headers)
    assert changed.status_code == 200
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    assert login(client, user["username"]).status_code == 401
    assert login(client, user["username"], new_password).status_code == 200


@pytest.mark.parametrize(("password", "needle"), [
    ("short1!", "at least 10"), ("password2026!", "common"), ("P@ssw0rd123", "common"),
    ("1234567890", "common"), ("zzzzzzzzzzzz", "repeated"), ("asdfghjkl;'", "common"),
])
def test_weak_passwords_are_refused_with_the_reason(client, password, needle):
    response = register(client, password=password)
    assert response.status_code == 422 and needle in response.json()["detail"], response.text


def test_a_password_may_not_contain_the_username(client):
    name = f"lantern{uuid.uuid4().hex[:6]}"
    response = register(client, name, password=f"my {name} password")
    assert response.status_code == 422 and "username" in response.json()["detail"]


def test_duplicate_names_and_emails_are_409_whatever_their_case(client):
    user = register(client).json()
    assert register(client, user["username"].upper()).status_code == 409
    clash = register(client, email=user["email"].upper())
    assert clash.status_code == 409 and clash.json()["field"] == "email"


def test_wrong_password_and_unknown_user_get_the_same_401(client):
    user = register(client).json()
    wrong = login(client, user["username"], "wrong password here")
    unknown = login(client, f"nobody-{uuid.uuid4().hex}", "wrong password here")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


def test_repeated_failed_sign_ins_get_429_until_the_window_ends(client, redis):
    user = register(client).json()
    for _ in range(MAX_FAILURES):
        assert login(client, user["username"], "not the password").status_code == 401
    locked = login(client, user["email"])  # the right password, and by email: the account is locked
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 900
    assert "try again" in locked.json()["detail"]
    assert login(client, register(client).json()["username"]).status_code == 200  # others sign in
    redis.delete(f"dramaflow:login:account:id:{user['id']}")  # as the window's end would
    assert login(client, user["username"]).status_code == 200


def test_failures_from_one_address_lock_it_for_every_account(settings, redis):
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    limits = settings.model_copy(update={"login_max_failures_per_address": 4})
    for i in range(4):
        LoginThrottle(redis, limits, f"name:someone-{i}", address).failed()
    assert LoginThrottle(redis, limits, "name:someone-else", address).wait_s() > 0
    assert LoginThrottle(redis, limits, "name:someone-else", "203.0.113.9").wait_s() == 0


def test_others_never_see_your_ledger_keys_tasks_or_scripts(client):
    alice, alice_h = person(client)
    bob, bob_h = person(client)
    key = client.post("/api/v1/users/me/api-keys", json={"name": "ci"}, headers=bob_h).json()
    script_id = client.post("/api/v1/scripts", json={"title": "b", "content": script(2)}, headers=bob_h).json()["id"]
    task = client.post("/api/v1/tasks", json={"script_id": script_id}, headers=bob_h).json()

    assert client.delete(f"/api/v1/users/me/api-keys/{key['id']}", headers=alice_h).status_code == 404
    assert client.get("/api/v1/users/me/api-keys", headers=alice_h).json() == []
    assert client.get(task["urls"]["self"], headers=alice_h).status_code == 404
    assert client.get(f"/api/v1/scripts/{script_id}", headers=alice_h).status_code == 404
    assert client.get(f"/api/v1/tasks?script_id={script_id}", headers=alice_h).json()["items"] == []
    alice_ledger = client.get("/api/v1/credits/transactions", headers=alice_h).json()["items"]
    assert {r["id"] for r in alice_ledger}.isdisjoint(
        r["id"] for r in client.get("/api/v1/credits/transactions", headers=bob_h).json()["items"])
    assert client.get("/api/v1/admin/users", headers=alice_h).status_code == 403
    # bob's versions of his script
    again = client.post("/api/v1/tasks", json={"script_id": script_id, "voice_config": {"A": "en-espeak-m"}},
                        headers=bob_h).json()
    versions = client.get(f"/api/v1/tasks?script_id={script_id}", headers=bob_h).json()
    assert [t["id"] for t in versions["items"]] == [again["id"], task["id"]] and versions["total"] == 2


def test_api_keys_are_shown_once_listed_without_the_key_and_revoked_at_once(client):
    _, headers = person(client)
    created = client.post("/api/v1/users/me/api-keys", json={"name": "render farm"}, headers=headers)
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith(key["prefix"]) and key["last_used_at"] is None
    key_headers = {"Authorization": f"Bearer {key['key']}"}
    assert client.get("/api/v1/users/me", headers=key_headers).status_code == 200
    [listed] = client.get("/api/v1/users/me/api-keys", headers=headers).json()
    assert listed["name"] == "render farm" and "key" not in listed and listed["last_used_at"] is not None
    assert key["key"] not in client.get("/api/v1/users/me/api-keys", headers=headers).text
    assert client.delete(f"/api/v1/users/me/api-keys/{key['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/users/me", headers=key_headers).status_code == 401
    assert client.get("/api/v1/users/me/api-keys", headers=headers).json() == []


def test_operator_made_users_keep_their_key_and_can_set_a_password(client, make_user):
    account = make_user()
    me = client.get("/api/v1/users/me", headers=account.headers).json()
    assert me["username"] == account.name and me["email"] is None
    response = client.patch("/api/v1/users/me", json={"password": PASSWORD, "email": f"{account.name}@example.org"},
                            headers=account.headers)
    assert response.status_code == 200, response.text
    assert login(client, f"{account.name}@example.org").status_code == 200


def test_suspended_users_read_but_cannot_submit_and_banned_ones_do_nothing(client, settings):
    admin = admin_headers(settings)
    user, headers = person(client)
    task = client.post("/api/v1/tasks", json={"script": script(2)}, headers=headers).json()
    suspend = {"status": "suspended", "reason": "unpaid invoice 1042"}
    assert client.patch(f"/api/v1/admin/users/{user['id']}", json=suspend, headers=admin).status_code == 200

    refused = client.post("/api/v1/tasks", json={"script": script(2)}, headers=headers)
    assert refused.status_code == 403 and "unpaid invoice 1042" in refused.json()["detail"]
    assert client.get(task["urls"]["self"], headers=headers).status_code == 200
    assert client.get("/api/v1/users/me", headers=headers).json()["status"] == "suspended"
    assert client.get("/api/v1/credits/transactions", headers=headers).status_code == 200

    client.patch(f"/api/v1/admin/users/{user['id']}", json={"status": "banned", "reason": "abuse"}, headers=admin)
    assert client.get("/api/v1/users/me", headers=headers).status_code == 403
    banned = login(client, user["username"])
    assert banned.status_code == 403 and "abuse" in banned.json()["detail"]

    client.patch(f"/api/v1/admin/users/{user['id']}", json={"status": "active"}, headers=admin)
    assert client.post("/api/v1/tasks", json={"script": script(2)}, headers=headers).status_code == 202


def test_admins_add_credits_list_users_and_cannot_lock_themselves_out(client, settings):
    admin = admin_headers(settings)
    user, headers = person(client)
    bought = client.post(f"/api/v1/admin/users/{user['id']}/credits",
                         json={"amount": 500, "type": "purchase", "description": "order 77"}, headers=admin)
    assert bought.status_code == 201
    assert bought.json()["balance_after"] == WELCOME + 500 and bought.json()["type"] == "purchase"
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert (me["credit_balance"], me["total_credit_purchased"]) == (WELCOME + 500, 500)
    for bad in ({"amount": -5, "type": "refund"}, {"amount": 0, "type": "grant"}, {"amount": 5, "type": "audio_generation"}):
        assert client.post(f"/api/v1/admin/users/{user['id']}/credits", json=bad, headers=admin).status_code == 422
    too_much = client.post(f"/api/v1/admin/users/{user['id']}/credits", json={"amount": -10**6, "type": "grant"},
                           headers=admin)
    assert too_much.status_code == 409
    found = client.get(f"/api/v1/admin/users?q={user['username'][3:]}", headers=admin).json()
    assert [u["id"] for u in found["items"]] == [user["id"]]
    myself = client.get("/api/v1/users/me", headers=admin).json()
    assert client.patch(f"/api/v1/admin/users/{myself['id']}", json={"status": "banned"},
                        headers=admin).status_code == 409
    assert client.post("/api/v1/admin/users/999999999/credits", json={"amount": 1, "type": "grant"},
                       headers=admin).status_code == 404


def test_twenty_concurrent_registrations_of_one_name_give_one_account(api):
    name = f"race{uuid.uuid4().hex[:8]}"

    def attempt(i: int) -> int:
        with httpx.Client(base_url=api, timeout=120) as c:
            return register(c, name, email=f"{name}-{i}@example.org").status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(attempt, range(20)))
    assert statuses == [201] + [409] * 19


def test_a_task_renders_on_the_engine_it_asks_for_and_keep_keeps_its_audio(client, settings, workers):
    workers.start()
    user, headers = person(client)
    account = Account(user["username"], headers["Authorization"].split()[1], user["id"])
    task = client.post("/api/v1/tasks", json={"script": script(2), "engine_type": "direct",
                                              "options": {"keep": True}}, headers=headers).json()
    assert task["engine_type"] == "direct"
    final = [data for _, event, data in events(client, account, task["urls"]["events"]) if event == "status"][-1]
    assert final["status_value"] == "completed" and final["engine"] == "direct"
    default = client.post("/api/v1/tasks", json={"script": script(2)}, headers=headers).json()
    assert default["engine_type"] == "dora"
    assert final_status(client, account, default)["status"] == "completed"
    with session_scope(settings.database_url) as session:
        kept = session.exec(select(Audio.expires_at).where(Audio.task_id == uuid.UUID(task["id"]))).all()
        expiring = session.exec(select(Audio.expires_at).where(Audio.task_id == uuid.UUID(default["id"]))).all()
    assert kept == [None, None] and len(expiring) == 2 and None not in expiring


def test_voices_carry_a_preview_url_and_voices_yaml_is_read_again_when_it_changes(client, voices_file):
    _, headers = person(client)
    rows = client.get("/api/v1/voices", headers=headers).json()
    assert all(r["preview_url"] == f"/api/v1/voices/{r['id']}/preview" for r in rows)
    data = yaml.safe_load(voices_file.read_text(encoding="utf-8"))
    data["en-added-later"] = dict(data["en-joe"], display_name="Added later")
    voices_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ids = [r["id"] for r in client.get("/api/v1/voices", headers=headers).json()]
    assert "en-added-later" in ids and len(ids) == len(rows) + 1


def test_closed_registration_answers_403(settings, tmp_path):
    with running_api(settings, tmp_path, DRAMAFLOW_REGISTRATION_OPEN="false", DRAMAFLOW_SECRET_KEY=SECRET) as (url, _):
        with httpx.Client(base_url=url, timeout=60) as c:
            response = register(c)
    assert response.status_code == 403 and "operator" in response.json()["detail"]


def test_the_refresh_cookie_is_http_only_and_trades_for_new_access_tokens(client, api):
    user = register(client).json()
    signed_in = login(client, user["username"])
    cookie = signed_in.headers["set-cookie"]
    assert "dramaflow_refresh=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/api/v1/auth" in cookie
    refreshed = client.post("/api/v1/auth/refresh")  # the client sends the cookie back, as a browser does
    assert refreshed.status_code == 200
    token = refreshed.json()["access_token"]
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()["id"] == user["id"]
    refresh_token = client.cookies["dramaflow_refresh"]
    # a refresh token is no access token, and an access token no refresh token
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {refresh_token}"}).status_code == 401
    with httpx.Client(base_url=api, cookies={"dramaflow_refresh": token}) as other:
        assert other.post("/api/v1/auth/refresh").status_code == 401
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.post("/api/v1/auth/refresh").status_code == 401  # the cookie is gone
