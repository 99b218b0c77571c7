"""The writer's pages in Debian's chromium, against the real API with a fake OpenAI-compatible model:
"Write with AI" (a brief, the draft streamed beside the chat, a repair, a revision that stays broken
and shows its problem at its line, a clean one finalized into the editor) and "Adapt a chapter" (pasted
prose, the passage the model left out put back and marked, opened in the editor)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.control_api.service.conftest import running_api
from tests.control_api.studio.conftest import SECRET, WELCOME_CREDITS
from tests.control_api.studio.test_studio_e2e import register_and_sign_in
from tests.control_api.writer.examples import CHAPTER, SHORT_REPLY

pytestmark = [pytest.mark.xdist_group("studio"), pytest.mark.slow]
GOOD = ("---\ntitle: Tides\nvoices: {Host: en-joe, Guest: en-espeak-f}\n---\n"
        "**Host:** Welcome back. Today we ask a simple question with a long answer: why does the tide turn?\n"
        "**Guest:** Because the moon pulls the water toward it, and the earth turns underneath that bulge.\n"
        "**Host:** So there are two bulges, one on each side of the planet?\n"
        "**Guest:** Exactly. The far side is left behind as the earth is pulled, so the oceans stretch both ways.\n")
BROKEN = GOOD.replace("**Guest:** Exactly.", "**Gust:** Exactly.")  # line 8: an unknown speaker


@pytest.fixture(scope="module")
def writer_studio(settings, fake_chat_server, tmp_path_factory):
    env = {"DRAMAFLOW_SECRET_KEY": SECRET, "DRAMAFLOW_WELCOME_CREDITS": str(WELCOME_CREDITS), **fake_chat_server.env()}
    with running_api(settings, tmp_path_factory.mktemp("writer-studio"), **env) as (url, _):
        yield url


def test_write_with_ai_repairs_revises_and_finalizes_into_the_editor(writer_studio, chat, new_page, screenshot):
    page = new_page()
    register_and_sign_in(page, writer_studio)
    page.get_by_role("link", name="Write with AI").click()
    expect(page).to_have_url(re.compile(r"/write$"))
    page.get_by_label("Topic").fill("why the tide turns")
    page.get_by_label("Target length in minutes").fill("0.5")
    page.get_by_label("Persona of speaker 2").fill("an oceanographer")
    chat.replies(BROKEN, GOOD)  # the first draft fails its check and is repaired by the second call
    page.get_by_role("button", name="Write the first draft").click()
    expect(page).to_have_url(re.compile(r"/write/[0-9a-f-]{36}$"))
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("a draft that passes its checks")
    expect(log).to_contain_text("2 call(s)")
    draft = page.get_by_role("region", name="Draft script")
    expect(draft).to_contain_text("Welcome back")
    screenshot(page, "8-write-with-ai")

    chat.replies(BROKEN, BROKEN)  # a revision that stays broken: shown with its problem at its line
    page.get_by_label("Ask for a change").fill("make the guest warmer")
    page.get_by_role("button", name="Send").click()
    expect(log).to_contain_text("a draft with 1 problem(s)")
    expect(draft.locator("[data-line='8']")).to_have_attribute("data-mark", "error")
    expect(page.get_by_role("list", name="Problems")).to_contain_text("Line 8")
    expect(page.get_by_role("button", name="Finalize and open in the editor")).to_be_disabled()

    chat.replies(GOOD)
    page.get_by_label("Ask for a change").fill("fix the guest's name")
    page.get_by_role("button", name="Send").click()
    expect(log.locator("li")).to_have_count(6)
    expect(draft.locator("[data-mark]")).to_have_count(0)
    page.get_by_role("button", name="Finalize and open in the editor").click()
    expect(page).to_have_url(re.compile(r"/scripts/[0-9a-f-]{36}$"))
    expect(page.get_by_role("textbox", name="Script", exact=True)).to_contain_text("Welcome back")
    expect(page.get_by_test_id("balance")).to_contain_text(str(WELCOME_CREDITS - 10))  # the first 3 rounds
    requests = [r["body"]["messages"][-1]["content"] for r in chat.log()]
    assert "make the guest warmer" in requests[2] and "line 8" in requests[-2]


def test_adapt_a_chapter_marks_what_was_put_back_and_opens_it(writer_studio, chat, new_page, screenshot):
    page = new_page()
    register_and_sign_in(page, writer_studio)
    page.get_by_role("link", name="Adapt a chapter").click()
    page.get_by_label("Chapter text").fill(CHAPTER)
    chat.replies(SHORT_REPLY)
    page.get_by_role("button", name="Adapt", exact=True).click()
    summary = page.get_by_test_id("adapt-summary")
    expect(summary).to_contain_text("Language model")
    expect(summary).to_contain_text("speakers: Tomas, Ada, Ferryman")
    result = page.get_by_role("region", name="Adapted script")
    restored = result.locator("[data-mark='restored']")
    expect(restored.filter(has_text="a dog barked twice")).to_have_count(1)
    expect(restored.first).to_contain_text("put back")
    screenshot(page, "9-adapt-a-chapter")
    page.get_by_role("button", name="Open in the editor").click()
    expect(page).to_have_url(re.compile(r"/scripts/[0-9a-f-]{36}$"))
    expect(page.get_by_role("textbox", name="Script", exact=True)).to_contain_text("a dog barked twice")
