"""The script writer over REST against the real service and a fake OpenAI-compatible server: drafts that
parse (repaired once, or returned with their problems), credits per conversation, streaming, finalize →
a script that renders, and conversations nobody else sees."""

from __future__ import annotations

import json
import math
import uuid

import httpx
import pytest

from tests.control_api.service.conftest import Account, final_status, running_api

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
CAP = 25  # a token round is charged in full before the cap cuts a later one
SPEAKERS = [{"name": "Host", "voice": "en-joe", "persona": "curious"},
            {"name": "Guest", "voice": "en-espeak-f", "persona": "an oceanographer"}]
GOOD = ("---\ntitle: Tides\nvoices: {Host: en-joe, Guest: en-espeak-f}\n---\n"
        "**Host:** Welcome back. Today we ask a simple question with a long answer: why does the tide turn?\n"
        "**Guest:** Because the moon pulls the water toward it, and the earth turns underneath that bulge.\n"
        "**Host:** So there are two bulges, one on each side of the planet?\n"
        "**Guest:** Exactly. The far side is left behind as the earth is pulled, so the oceans stretch both ways.\n")
BROKEN = GOOD.replace("**Guest:** Exactly.", "**Gust:** Exactly.")
BRIEF = {"topic": "why the tide turns", "style": "interview", "target_duration_s": 30, "speakers": SPEAKERS}


@pytest.fixture(scope="module")
def writer_api(settings, fake_chat_server, tmp_path_factory):
    env = fake_chat_server.env() | {"DRAMAFLOW_CONVERSATION_CREDITS_MAX": str(CAP)}
    with running_api(settings, tmp_path_factory.mktemp("writer-api"), **env) as (url, _):
        yield url


@pytest.fixture
def client(writer_api, chat):
    with httpx.Client(base_url=writer_api, timeout=120) as c:
        yield c


def ledger(client, account) -> list[dict]:
    rows = client.get("/api/v1/credits/transactions?limit=100", headers=account.headers).json()["items"]
    return [r for r in reversed(rows) if r["type"] == "script_generation"]


def test_without_a_model_the_writer_says_what_to_set(api_url, make_user):
    account = make_user()
    response = httpx.post(f"{api_url}/api/v1/conversations", json=BRIEF, headers=account.headers, timeout=60)
    assert response.status_code == 503 and "DRAMAFLOW_LLM_BASE_URL" in response.json()["detail"]


def test_four_rounds_and_more_cost_ten_then_tokens_up_to_the_cap(client, chat, make_user):
    account = make_user(credits=100)
    long_draft = GOOD + "".join(f"**Host:** Another question number {i} about the sea and the moon and the "
                                f"tides that follow them around the world.\n**Guest:** Another answer {i}.\n"
                                for i in range(60))
    chat.replies(GOOD, GOOD, GOOD, long_draft, long_draft, long_draft)
    first = client.post("/api/v1/conversations", json=BRIEF, headers=account.headers)
    assert first.status_code == 201, first.text
    conversation = first.json()
    assert conversation["draft"]["ok"] and conversation["draft"]["script"] == GOOD
    url = f"/api/v1/conversations/{conversation['id']}"
    for request in ("make the guest warmer", "shorter", "add a rain scene", "more questions", "even more"):
        assert client.post(f"{url}/messages", json={"content": request}, headers=account.headers).status_code == 200
    done = client.get(url, headers=account.headers).json()
    tokens = [m["metadata"]["prompt_tokens"] + m["metadata"]["completion_tokens"]
              for m in done["messages"] if m["role"] == "assistant"]
    assert len(tokens) == 6 and done["message_count"] == 12 and done["total_tokens"] == sum(tokens)
    expected, charged = [], 0
    for round_number, used in enumerate(tokens, start=1):
        price = 10 if round_number == 1 else 0 if round_number <= 3 else math.ceil(used / 1000)
        price = min(price, CAP - charged)
        charged += price
        if price:
            expected.append(-price)
    rows = ledger(client, account)
    assert [r["amount"] for r in rows] == expected and charged == CAP == done["credits_charged"]
    assert all(r["reference"] == conversation["id"] for r in rows)
    assert tokens[3] > 1000 and len(expected) >= 3  # a token round was charged before the cap


def test_a_wrong_tag_is_repaired_and_a_draft_that_stays_broken_is_marked(client, chat, make_user):
    account = make_user()
    chat.replies(BROKEN, GOOD, BROKEN, BROKEN)
    conversation = client.post("/api/v1/conversations", json=BRIEF, headers=account.headers).json()
    assert conversation["draft"]["ok"] and conversation["messages"][-1]["metadata"]["calls"] == 2
    assert conversation["messages"][-1]["metadata"]["repaired"] is True
    repair = chat.log()[1]["body"]["messages"][-1]["content"]
    assert "line 8: unknown speaker 'Gust'" in repair
    url = f"/api/v1/conversations/{conversation['id']}"
    broken = client.post(f"{url}/messages", json={"content": "change it"}, headers=account.headers).json()
    assert broken["draft"]["ok"] is False
    assert [(p["line"], p["message"]) for p in broken["draft"]["problems"]] == [(8, "unknown speaker 'Gust'")]
    refused = client.post(f"{url}/finalize", headers=account.headers)
    assert refused.status_code == 422 and "Gust" in refused.json()["detail"]


def test_a_reply_streams_as_it_is_written(client, chat, make_user):
    account = make_user()
    chat.replies(GOOD, GOOD)
    conversation = client.post("/api/v1/conversations", json=BRIEF, headers=account.headers).json()
    events, current = [], {}
    with client.stream("POST", f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "again"},
                       headers={**account.headers, "Accept": "text/event-stream"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                events.append(current)
                current = {}
            else:
                key, _, value = line.partition(": ")
                current[key] = value
    deltas = [json.loads(e["data"])["text"] for e in events if e.get("event") == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == GOOD
    final = json.loads(events[-1]["data"])
    assert events[-1]["event"] == "draft" and final["draft"]["ok"] and final["message_count"] == 4


def test_payment_is_checked_before_the_model_is_called(client, chat, make_user):
    poor = make_user(credits=5)
    response = client.post("/api/v1/conversations", json=BRIEF, headers=poor.headers)
    assert response.status_code == 402 and chat.log() == []


def test_others_never_see_a_conversation(client, chat, make_user):
    alice, mallory = make_user(), make_user()
    chat.replies(GOOD)
    conversation = client.post("/api/v1/conversations", json=BRIEF, headers=alice.headers).json()
    url = f"/api/v1/conversations/{conversation['id']}"
    assert client.get(url, headers=mallory.headers).status_code == 404
    assert client.post(f"{url}/messages", json={"content": "x"}, headers=mallory.headers).status_code == 404
    assert client.post(f"{url}/finalize", headers=mallory.headers).status_code == 404
    assert client.get("/api/v1/conversations", headers=mallory.headers).json()["items"] == []
    assert client.get(f"/api/v1/conversations/{uuid.uuid4()}", headers=alice.headers).status_code == 404


def test_finalize_gives_a_script_that_renders(client, chat, make_user, workers):
    workers.start()
    account = make_user(credits=200)
    chat.replies(GOOD)
    conversation = client.post("/api/v1/conversations", json=BRIEF, headers=account.headers).json()
    script = client.post(f"/api/v1/conversations/{conversation['id']}/finalize", headers=account.headers)
    assert script.status_code == 201
    body = script.json()
    assert body["source"] == "ai_generated" and body["conversation_id"] == conversation["id"]
    assert body["content"] == GOOD and body["estimated_chars"] > 100
    after = client.get(f"/api/v1/conversations/{conversation['id']}", headers=account.headers).json()
    assert after["status"] == "completed" and after["script_id"] == body["id"]
    task = client.post("/api/v1/tasks", json={"script_id": body["id"]}, headers=account.headers).json()
    done = final_status(client, Account("x", account.key, account.id), task)
    assert done["status"] == "completed" and done["segments"] == 4
    resumed = client.put(f"/api/v1/conversations/{conversation['id']}/resume", headers=account.headers).json()
    assert resumed["status"] == "active"


@pytest.mark.parametrize(("example", "speakers"), [("chapter-en.txt", ["Tomas", "Ada"]),
                                                   ("chapter-zh.txt", ["老周", "阿梅", "船夫"])])
def test_a_chapter_is_adapted_offline_into_a_script_that_parses_and_keeps_the_text(api_url, make_user, example,
                                                                                    speakers):
    from pathlib import Path

    account = make_user()
    text = (Path(__file__).resolve().parents[3] / "scripts" / example).read_text(encoding="utf-8")
    response = httpx.post(f"{api_url}/api/v1/adaptations", json={"text": text}, headers=account.headers, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speakers"] == speakers and body["complete"] and body["missing"] == [] and body["kept_share"] == 1.0
    assert body["check"]["errors"] == [] and {s["name"] for s in body["check"]["speakers"]} >= set(speakers)


def test_a_chapter_adapted_by_the_model_is_charged_and_gets_back_what_the_model_left_out(client, chat, make_user):
    from tests.control_api.writer.examples import CHAPTER, SHORT_REPLY

    account = make_user(credits=20)
    chat.replies(SHORT_REPLY)
    response = client.post("/api/v1/adaptations", json={"text": CHAPTER, "title": "Low water"},
                           headers=account.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "llm" and body["chunks"] == 1 and body["fallback_chunks"] == []
    assert body["speakers"] == ["Tomas", "Ada", "Ferryman"] and body["complete"]
    restored = {r["text"]: r["line"] for r in body["restored"]}
    assert any("a dog barked twice" in text for text in restored)
    lines = body["script"].split("\n")
    assert all(lines[n - 1].endswith(text) for text, n in restored.items())
    assert body["check"]["errors"] == [] and any(f"line {n}" in w for n in restored.values() for w in body["warnings"])
    rows = ledger(client, account)
    assert len(rows) == 1 and rows[0]["amount"] == -body["credits_charged"] == -math.ceil(body["tokens"] / 1000)
    assert rows[0]["reference"].startswith("adaptation:")
    free = client.post("/api/v1/adaptations", json={"text": CHAPTER, "mode": "rules"}, headers=account.headers)
    assert free.json()["mode"] == "rules" and free.json()["credits_charged"] == 0 and len(ledger(client, account)) == 1
    assert len(chat.log()) == 1  # the rules asked no model


def test_an_adaptation_by_the_model_needs_credits_and_a_model(client, chat, api_url, make_user):
    from tests.control_api.writer.examples import CHAPTER

    poor = make_user(credits=0)
    refused = client.post("/api/v1/adaptations", json={"text": CHAPTER}, headers=poor.headers)
    assert refused.status_code == 402 and chat.log() == []
    no_model = httpx.post(f"{api_url}/api/v1/adaptations", json={"text": CHAPTER, "mode": "llm"},
                          headers=poor.headers, timeout=120)
    assert no_model.status_code == 503 and "DRAMAFLOW_LLM_MODEL" in no_model.json()["detail"]
    offline = httpx.post(f"{api_url}/api/v1/adaptations", json={"text": CHAPTER}, headers=poor.headers, timeout=120)
    assert offline.json()["mode"] == "rules" and "DRAMAFLOW_LLM_BASE_URL" in offline.json()["warnings"][0]
