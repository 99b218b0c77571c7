"""The REST API against real PostgreSQL and Redis: validation, auth, isolation, idempotency,
credits under concurrency, scripts, voices, templates, health. (Rendering is in test_worker.py.)"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import soundfile as sf
from sqlmodel import select

from control_api.db import CreditTransaction, Task, session_scope
from control_api.service import validate
from tests.control_api.service.conftest import SENTINEL_NAME, SENTINEL_VALUE, script

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
PROBLEM = "application/problem+json"


def count_tasks(settings, user_id: int | None = None) -> int:
    with session_scope(settings.database_url) as session:
        query = select(Task)
        if user_id is not None:
            query = query.where(Task.user_id == user_id)
        return len(session.exec(query).all())


def queued_jobs(redis, settings) -> int:
    return redis.zcard(settings.queue_name)


@pytest.fixture
def client(api_url):
    with httpx.Client(base_url=api_url, timeout=60) as c:
        yield c


def post_task(client, account, **body):
    body.setdefault("script", script())
    return client.post("/api/v1/tasks", json=body, headers=account.headers)


# --- auth and isolation ----------------------------------------------------------------------------


def test_requests_without_a_valid_key_get_401_problem(client, make_user):
    for headers in ({}, {"Authorization": "Bearer dfk_wrong"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["detail"]


def test_api_keys_are_stored_hashed(settings, make_user):
    account = make_user()
    with session_scope(settings.database_url) as session:
        from control_api.db import ApiKey, User

        user = session.get(User, account.id)
        [key] = session.exec(select(ApiKey).where(ApiKey.user_id == user.id)).all()
        assert account.key not in (key.key_hash, key.prefix) and account.key.startswith(key.prefix)
        assert len(key.key_hash) == 64


def test_other_users_see_404_for_tasks_files_and_scripts(client, make_user):
    alice, mallory = make_user(), make_user()
    task = post_task(client, alice).json()
    stored = client.post("/api/v1/scripts", json={"title": "x", "content": script()}, headers=alice.headers).json()
    for path in (f"/api/v1/tasks/{task['id']}", f"/api/v1/tasks/{task['id']}/audio?format=mp3",
                 f"/api/v1/tasks/{task['id']}/timeline", f"/api/v1/tasks/{task['id']}/events",
                 f"/api/v1/scripts/{stored['id']}"):
        response = client.get(path, headers=mallory.headers)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    assert client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=mallory.headers).status_code == 404
    assert client.delete(f"/api/v1/scripts/{stored['id']}", headers=mallory.headers).status_code == 404
    assert client.get("/api/v1/tasks", headers=mallory.headers).json()["total"] == 0
    assert client.post("/api/v1/tasks", json={"script_id": stored["id"]}, headers=mallory.headers).status_code == 404


# --- bad input changes nothing ---------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"script": "---\nvoices: {A: en-joe}\n---\nA: fine\n**Bob:** who am I?\n"}, 422, "line 5"),
    ({"script": "---\nvoices: {A: no-such-voice}\n---\nA: hello\n"}, 422, "no-such-voice"),
    ({"script": script(), "template": "no-such-template"}, 422, "unknown template"),
    ({"script": script(), "template": "../../etc/passwd"}, 422, "unknown template"),
    ({"script": script(), "voice_config": {"A": "en-joe\nnodes:\n  - id: evil"}}, 422, "voice"),
    ({"script": script(), "voice_config": {"A": "{{ 7*7 }}"}}, 422, "voice"),
    ({"script": script(), "options": {"settings": {"mix": {"target_lufs": "{{ config }}"}}}}, 422, ""),
    ({"script": script(), "options": {"shell": "rm -rf /"}}, 422, "unknown option"),
    ({"script": script(), "options": {"settings": {"ambience": {"backend": "tangoflux", "guidance_scale": 1}}}},
     422, "guidance_scale must be above 1"),
    ({"script": script(), "options": {"settings": {"ambience": {"library": "/srv/$HOME"}}}}, 422, "contains '$'"),
    ({"script": script(), "options": {"settings": {"tts": {"attempts": 9}}}}, 422, "tts.line_deadline_s"),
    ({"script": script(), "options": {"settings": {"mix": {"duck_dbb": 9}}}}, 422, "no setting mix.duck_dbb"),
    ({"script": script(), "options": {"settings": {"tts": {"line_deadline_s": 0}}}}, 422, "line_deadline_s"),
    ({"script": script(), "options": {"seed": 2**63}}, 422, "options.seed"),
    ({"script": script(), "options": {"settings": {"mix": {"target_lufs": "nan"}}}}, 422, "target_lufs"),
    ({"script": script(), "options": {"settings": {"mix": {"target_lufs": "inf"}}}}, 422, "target_lufs"),
    ({"script": script(), "options": {"settings": {"layout": {"sample_rate": 0}}}}, 422, "sample_rate"),
    ({"script": script(), "options": {"settings": {"layout": {"sample_rate": 1}}}}, 422, "sample_rate"),
    ({"script": script(), "options": {"settings": {"layout": {"sample_rate": 10**7}}}}, 422, "sample_rate"),
    ({"script": script(), "options": {"settings": {"layout": {"tail_s": 1e9}}}}, 422, "tail_s"),
    ({"script": script(), "options": {"settings": {"layout": {"speaker_gap_s": "1e9,1e9"}}}}, 422, "speaker_gap_s"),
    ({"script": script(), "options": {"settings": {"mix": {"duck_db": 10**400}}}}, 422, "duck_db"),
    ({"script": script(), "options": {"settings": {"ambience": {"backend": "library", "library": "/etc"}}}}, 422,
     "sound libraries this service offers"),
    ({"script": script() + "A: and then.\n[pause: 60]\n" * 10_000}, 422, "would run past 4.0 h of audio"),
    ({"script": script(), "script_id": str(uuid.uuid4())}, 422, "exactly one"),
    ({}, 422, "exactly one"),
])
def test_bad_submissions_get_4xx_and_change_nothing(client, make_user, settings, redis, body, status, needle):
    account = make_user()
    before_jobs = queued_jobs(redis, settings)
    response = client.post("/api/v1/tasks", json=body, headers=account.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert needle in response.json()["detail"]
    assert count_tasks(settings, account.id) == 0
    assert queued_jobs(redis, settings) == before_jobs


@pytest.mark.parametrize("value", [f"${SENTINEL_NAME}", [f"${SENTINEL_NAME}"], {"a": f"${{{SENTINEL_NAME}}}"},
                                   [[f"${SENTINEL_NAME}"]], {f"${SENTINEL_NAME}": 1}])
@pytest.mark.parametrize("group_key", [("ambience", "library"), ("mix", "duck_db"), ("segmenter", "max_chars")])
def test_no_worker_secret_comes_back_whatever_the_shape_of_a_setting(client, make_user, settings, redis, value,
                                                                    group_key):
    account = make_user()
    group, key = group_key
    extra = {"backend": "library"} if group == "ambience" else {}
    response = client.post("/api/v1/tasks", headers=account.headers,
                           json={"script": script(), "options": {"settings": {group: {**extra, key: value}}}})
    assert response.status_code == 422 and "contains '$'" in response.json()["detail"]
    assert SENTINEL_VALUE not in response.text
    assert count_tasks(settings, account.id) == 0


def test_script_errors_name_the_line_and_the_fix(client, make_user):
    response = post_task(client, make_user(), script="---\nvoices: {A: en-joe}\n---\nA: fine\n**Bob:** who am I?\n")
    problem = response.json()
    assert problem["line"] == 5 and problem["hint"] and problem["title"] == "Script error"


def test_oversize_body_gets_413_and_changes_nothing(client, make_user, settings):
    account = make_user()
    huge = script() + "A: " + "word " * (settings.max_body_bytes // 5) + "\n"
    response = post_task(client, account, script=huge)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    body = json.dumps({"script": huge}).encode()

    def chunked():  # no Content-Length: the size is known only by reading
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]
    response = client.post("/api/v1/tasks", content=chunked(), headers={**account.headers,
                                                                        "Content-Type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    assert count_tasks(settings, account.id) == 0


@pytest.mark.parametrize(("text", "needle"), [("A: fine\nA: bad\x00\n", "line 6 contains a NUL"),
                                              ("A: fine\nA: bad\ud800\n", "line 6 contains an unpaired surrogate")])
def test_text_that_cannot_be_stored_is_a_422_naming_the_line(client, make_user, settings, text, needle):
    account = make_user()
    for path, body in (("/api/v1/tasks", {"script": script().rstrip("\n").rsplit("\n", 2)[0] + "\n" + text}),
                       ("/api/v1/scripts", {"title": "t", "content": "---\ntitle: x\n---\nA: a\n" + text})):
        # as a JSON client sends it: ASCII, the surrogate as a \ud800 escape (httpx's json= cannot encode it)
        response = client.post(path, content=json.dumps(body).encode(), headers={**account.headers,
                                                                              "Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM and needle in response.json()["detail"]
    assert count_tasks(settings, account.id) == 0


def test_template_preview_keeps_user_values_inside_scalars(client, make_user):
    account = make_user()
    evil = 'x"\n  - id: evil\n    path: /bin/sh\n{{ 7*7 }}'
    response = client.post("/api/v1/templates/podcast/render", json={"title": evil}, headers=account.headers)
    assert response.status_code == 200
    import yaml

    flow = yaml.safe_load(response.text)
    assert "evil" not in [n["id"] for n in flow["nodes"]]
    assert "49" not in response.text
    assert client.post("/api/v1/templates/nope/render", json={}, headers=account.headers).status_code == 404


# --- submission, idempotency, credits ---------------------------------------------------------------


def test_submit_answers_202_with_urls_and_queues_once(client, make_user, settings, redis):
    account = make_user()
    before = queued_jobs(redis, settings)
    response = post_task(client, account)
    assert response.status_code == 202
    task = response.json()
    assert task["status"] == "queued" and response.headers["location"] == task["urls"]["self"]
    assert set(task["urls"]) >= {"self", "events", "cancel", "audio_mp3", "audio_wav", "timeline"}
    assert queued_jobs(redis, settings) == before + 1
    polled = client.get(task["urls"]["self"], headers=account.headers).json()
    assert polled["status"] == "queued" and polled["chars"] > 0


def test_idempotency_key_returns_the_same_task(client, make_user, settings):
    account = make_user()
    headers = {**account.headers, "Idempotency-Key": "abc-1"}
    first = client.post("/api/v1/tasks", json={"script": script()}, headers=headers).json()
    again = client.post("/api/v1/tasks", json={"script": script()}, headers=headers).json()
    assert first["id"] == again["id"] and count_tasks(settings, account.id) == 1
    other = client.post("/api/v1/tasks", json={"script": script(3)}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    assert count_tasks(settings, account.id) == 1


def test_short_balance_gets_402(client, make_user, settings):
    account = make_user(credits=0)
    response = post_task(client, account)
    assert response.status_code == 402
    assert response.json()["needed"] >= 1 and response.json()["available"] == 0
    assert count_tasks(settings, account.id) == 0


def test_twenty_concurrent_submissions_never_overcommit_credits(api_url, make_user, settings):
    cost = validate(settings, script(), "podcast", {}, {}).cost
    affordable = 5
    account = make_user(credits=cost * affordable)

    def submit(_i: int) -> int:
        with httpx.Client(base_url=api_url, timeout=60) as c:
            return post_task(c, account).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(submit, range(20)))
    assert codes.count(202) == affordable and codes.count(402) == 20 - affordable
    with session_scope(settings.database_url) as session:
        tasks = session.exec(select(Task).where(Task.user_id == account.id)).all()
        assert sum(t.credit_cost for t in tasks) <= cost * affordable


def test_charge_happens_once_per_task(settings, make_user):
    from control_api.credits import charge_once

    account = make_user(credits=100)
    with session_scope(settings.database_url) as session:
        task = Task(user_id=account.id, script_text="x", template="podcast", credit_cost=7)
        session.add(task)
    results = []
    for _ in range(3):
        with session_scope(settings.database_url) as session:
            results.append(charge_once(session, session.get(Task, task.id)))
    assert results == [True, False, False]
    with session_scope(settings.database_url) as session:
        ledger = session.exec(select(CreditTransaction).where(CreditTransaction.user_id == account.id)).all()
        assert [(r.type, r.amount, r.balance_after) for r in ledger] == [("grant", 100, 100), ("audio_generation", -7, 93)]


def test_cancel_of_a_queued_task_is_immediate_and_final(client, make_user):
    account = make_user()
    task = post_task(client, account).json()
    response = client.post(task["urls"]["cancel"], headers=account.headers)
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    again = client.post(task["urls"]["cancel"], headers=account.headers)  # the same cancel, not a conflict
    assert again.status_code == 202 and again.json()["status"] == "cancelled"
    events = client.get(task["urls"]["events"], headers=account.headers)
    last = [line for line in events.text.splitlines() if line.startswith("data:")][-1]
    assert json.loads(last[5:])["status_value"] == "cancelled"


def test_task_list_is_paginated_newest_first(client, make_user):
    account = make_user()
    ids = [post_task(client, account).json()["id"] for _ in range(3)]
    page = client.get("/api/v1/tasks?limit=2", headers=account.headers).json()
    assert page["total"] == 3 and [t["id"] for t in page["items"]] == ids[::-1][:2]
    rest = client.get("/api/v1/tasks?limit=2&offset=2", headers=account.headers).json()
    assert [t["id"] for t in rest["items"]] == ids[:1]


# --- scripts, voices, templates, health ------------------------------------------------------------


def test_scripts_crud_and_submit_by_id(client, make_user, settings):
    account = make_user()
    created = client.post("/api/v1/scripts", json={"title": "One", "content": script()}, headers=account.headers)
    assert created.status_code == 201
    sid = created.json()["id"]
    assert created.json()["source"] == "uploaded" and created.json()["estimated_chars"] == 2 * len(
        "Line number 0 of the test script.") and created.json()["estimated_duration_s"] > 0
    updated = client.put(f"/api/v1/scripts/{sid}", json={"title": "Two", "content": script(3)},
                         headers=account.headers).json()
    assert updated["title"] == "Two" and "Line number 2" in updated["content"]
    assert updated["estimated_chars"] == 3 * len("Line number 0 of the test script.")
    broken = client.put(f"/api/v1/scripts/{sid}", json={"title": "Two", "content": "**Nobody:** hi\n" + script(3)},
                        headers=account.headers).json()  # stored as written; no estimate while it does not parse
    assert broken["estimated_chars"] is None and broken["content"].startswith("**Nobody:**")
    client.put(f"/api/v1/scripts/{sid}", json={"title": "Two", "content": script(3)}, headers=account.headers)
    assert [s["id"] for s in client.get("/api/v1/scripts", headers=account.headers).json()["items"]] == [sid]
    task = client.post("/api/v1/tasks", json={"script_id": sid}, headers=account.headers)
    assert task.status_code == 202 and task.json()["segments"] == 3
    assert client.delete(f"/api/v1/scripts/{sid}", headers=account.headers).status_code == 409  # a task uses it
    other = client.post("/api/v1/scripts", json={"content": script()}, headers=account.headers).json()["id"]
    assert client.delete(f"/api/v1/scripts/{other}", headers=account.headers).status_code == 204
    assert client.get(f"/api/v1/scripts/{other}", headers=account.headers).status_code == 404


def test_voices_and_a_cached_preview(client, make_user, settings):
    account = make_user()
    voices = client.get("/api/v1/voices", headers=account.headers).json()
    assert {"en-joe", "en-espeak-f", "zh-espeak-m"} <= {v["id"] for v in voices}
    first = client.get("/api/v1/voices/en-espeak-f/preview", headers=account.headers)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/wav"
    cached = list(settings.previews_dir.glob("*.wav"))
    again = client.get("/api/v1/voices/en-espeak-f/preview", headers=account.headers)
    assert again.content == first.content and list(settings.previews_dir.glob("*.wav")) == cached
    import io

    audio, rate = sf.read(io.BytesIO(first.content))
    assert rate == 44100 and 0.5 < len(audio) / rate < 10
    assert client.get("/api/v1/voices/../../etc/passwd/preview", headers=account.headers).status_code == 404
    assert client.get("/api/v1/voices/nope/preview", headers=account.headers).status_code == 404


def test_a_script_is_checked_as_it_is_written(client, make_user):
    account = make_user()
    good = client.post("/api/v1/scripts/check", json={"content": script(4), "template": "drama"},
                       headers=account.headers).json()
    assert good["errors"] == [] and good["counts"]["utterances"] == 4 and good["estimated_duration_s"] > 0
    assert [(s["name"], s["voice"], s["utterances"], s["line"]) for s in good["speakers"]] == [
        ("A", "en-espeak-f", 2, 5), ("B", "en-espeak-m", 2, 6)]
    recast = client.post("/api/v1/scripts/check", json={"content": script(2), "voice_config": {"A": "en-joe"}},
                         headers=account.headers).json()
    assert recast["speakers"][0]["voice"] == "en-joe" and recast["speakers"][0]["provider"] == "piper"
    bad = client.post("/api/v1/scripts/check", json={"content": script(2) + "**Zed:** who am I?\n"},
                      headers=account.headers).json()
    [error] = bad["errors"]
    assert error["line"] == 7 and "Zed" in error["message"] and error["hint"]
    assert bad["speakers"] == [] and bad["counts"]["lines"] == 7


def test_a_template_lists_its_settings_with_ranges(client, make_user):
    account = make_user()
    drama = client.get("/api/v1/templates/drama", headers=account.headers).json()
    settings = {(s["group"], s["key"]): s for s in drama["settings"]}
    assert settings[("mix", "target_lufs")] | {} == {"group": "mix", "key": "target_lufs", "default": -16.0,
                                                     "kind": "number", "minimum": -40.0, "maximum": -5.0,
                                                     "choices": None}
    assert settings[("output", "mp3_bitrate_kbps")]["choices"] == [64, 96, 128, 160, 192, 224, 256, 320]
    assert settings[("segmenter", "pack")]["kind"] == "boolean"
    # every default passes the API's own check, and a value past a range is refused naming it
    defaults = {}
    for (group, key), row in settings.items():
        defaults.setdefault(group, {})[key] = row["default"]
    body = {"script": script(2), "template": "drama", "options": {"settings": defaults}}
    assert client.post("/api/v1/tasks/estimate", json=body, headers=account.headers).status_code == 200
    body["options"]["settings"]["mix"]["target_lufs"] = -50
    refused = client.post("/api/v1/tasks/estimate", json=body, headers=account.headers)
    assert refused.status_code == 422 and "target_lufs" in refused.json()["detail"]
    assert client.get("/api/v1/templates/nope", headers=account.headers).status_code == 404


def test_templates_are_listed(client, make_user):
    names = {t["name"] for t in client.get("/api/v1/templates", headers=make_user().headers).json()}
    assert {"podcast", "drama"} <= names


def test_health_readiness_metrics_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok", "postgres": "ok", "dora": "ok"}
    metrics = client.get("/metrics").text
    assert "dramaflow_http_requests_total" in metrics
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}/events", "/api/v1/tasks/{task_id}/audio"} <= set(spec["paths"])


def test_fifty_submissions_followers_and_cancels_at_once_never_answer_5xx(api_url, make_user, settings):
    """The pool holds one connection per request at a time and none while a response streams: 50
    concurrent submissions, then 50 open event streams (while the API still answers), then 50 concurrent
    cancels of one task — no 5xx, and the cancel takes effect."""
    account = make_user(credits=100_000)
    with httpx.Client(base_url=api_url, timeout=120, limits=httpx.Limits(max_connections=200)) as c:
        with ThreadPoolExecutor(50) as pool:
            submitted = list(pool.map(lambda _i: post_task(c, account), range(50)))
        assert [r.status_code for r in submitted] == [202] * 50
        tasks = [r.json() for r in submitted]
        target = tasks[0]

        streams = []
        try:
            for _ in range(50):  # fifty followers hold their streams open at once
                stream = c.stream("GET", target["urls"]["events"], headers=account.headers)
                response = stream.__enter__()
                streams.append(stream)
                assert response.status_code == 200
                assert next(response.iter_lines()).startswith("id: ")  # the queued status event
            assert c.get(target["urls"]["self"], headers=account.headers).status_code == 200
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)

        with ThreadPoolExecutor(50) as pool:
            cancels = list(pool.map(lambda _i: c.post(target["urls"]["cancel"], headers=account.headers),
                                    range(50)))
        assert [r.status_code for r in cancels] == [202] * 50  # cancelling again is the same cancel
        assert c.get(target["urls"]["self"], headers=account.headers).json()["status"] == "cancelled"
        for task in tasks[1:]:  # leave nothing queued for the workers of later tests
            assert c.post(task["urls"]["cancel"], headers=account.headers).status_code == 202
