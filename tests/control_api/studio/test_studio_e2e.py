"""A person in the studio, in Debian's chromium: register, sign in, write a script with a mistake and
see it at its line, fix it, cast it, render it, follow every stage, listen (the audio's time advances,
space pauses, a line click seeks, the subtitle follows), download the MP3 and decode it; a second person
cannot open the first one's task; the Chinese UI renders. Screenshots of every page: out/screenshots/."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from nodes.output.mp3 import decode_mp3

pytestmark = [pytest.mark.xdist_group("studio"), pytest.mark.slow]
STAGES = ("segmenter", "tts", "ambience", "effects", "mixer", "output")
RENDER_TIMEOUT_MS = 300_000
PASSWORD = "violet harbour lantern"
SCRIPT = """---
title: Storm Test
voices: {Mara: en-espeak-f, Silas: en-espeak-m}
---
[ambience: rain on a tin roof]
**Mara:** Did you hear that?
**{second}:** Only the storm, and the sea under it.
[sfx: thunder clap]
## The Second Hour
**Mara:** Then we wait for the light.
"""
UNKNOWN_LINE = 7  # the line of the second speaker (front matter counted)


def register_and_sign_in(page, url: str, screenshot=None) -> str:
    name = f"studio{uuid.uuid4().hex[:8]}"
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_role("tab", name="Register").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        screenshot(page, "1-register")
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(re.compile(r"/scripts$"))
    page.get_by_role("button", name="Sign out").click()  # and in again, with the password
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        screenshot(page, "2-sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/scripts$"))
    return name


# The page's CSP forbids eval, so Playwright's wait_for_function (which compiles its predicate in the
# page) cannot run there: this waits in the page on the audio element's own events instead.
AUDIO_WAIT = """([kind, value, timeout_ms]) => new Promise((resolve, reject) => {
  const audio = document.querySelector("audio");
  const met = () => kind === "after" ? audio.currentTime > value
    : kind === "near" ? Math.abs(audio.currentTime - value) < 0.5 : audio.paused;
  if (met()) return resolve(audio.currentTime);
  const events = ["timeupdate", "pause", "seeked", "playing"];
  const check = () => { if (met()) { events.forEach(e => audio.removeEventListener(e, check)); resolve(audio.currentTime); } };
  events.forEach(e => audio.addEventListener(e, check));
  setTimeout(() => reject(new Error(`audio not ${kind} ${value} after ${timeout_ms} ms: at ${audio.currentTime}`)), timeout_ms);
})"""


def audio_until(page, kind: str, value: float = 0.0, timeout_ms: int = 30_000) -> float:
    """Wait until the audio's time is ``after`` or ``near`` ``value``, or it is ``paused``; its time then."""
    return page.evaluate(AUDIO_WAIT, [kind, value, timeout_ms])


def line_of_editor(page, number: int):
    return page.locator(".cm-content .cm-line").nth(number - 1)


def test_write_cast_render_listen_and_download(studio_url, new_page, workers, screenshot, tmp_path):
    workers.start()
    page = new_page()
    register_and_sign_in(page, studio_url, screenshot)
    screenshot(page, "3-scripts")

    # write, with a speaker nobody declared: the error shows at its line, with the fix
    page.get_by_role("button", name="New script").click()
    expect(page).to_have_url(re.compile(r"/scripts/new$"))
    page.get_by_label("Title").fill("Storm Test")
    editor = page.get_by_role("textbox", name="Script", exact=True)
    editor.click()
    page.keyboard.insert_text(SCRIPT.replace("{second}", "Zed"))
    problems = page.get_by_role("list", name="Problems")
    expect(problems).to_contain_text(f"Line {UNKNOWN_LINE}")
    expect(problems).to_contain_text("Zed")
    expect(line_of_editor(page, UNKNOWN_LINE).locator(".cm-lintRange-error")).to_have_count(1)
    screenshot(page, "4-editor-error")
    editor.press("Control+a")
    page.keyboard.insert_text(SCRIPT.replace("{second}", "Silas"))
    expect(problems).not_to_contain_text("Line")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/scripts/[0-9a-f-]{36}$"))
    script_url = page.url

    # cast: Silas gets an old man's neural voice, found with the gender filter and its age tag, and heard
    # first through its preview
    page.get_by_role("tab", name="Cast").click()
    page.get_by_label("Gender filter").click()
    page.get_by_role("option", name="male", exact=True).click()
    page.get_by_label("Voice for Silas").click()
    expect(page.get_by_role("option", name=re.compile(r"^Ada "))).to_have_count(0)  # a female voice, filtered out
    page.get_by_role("option", name=re.compile(r"^Walter .*male 60–85")).click()
    with page.expect_response(lambda r: "/preview" in r.url) as preview:
        page.get_by_role("button", name="Preview Silas").click()
    assert preview.value.status == 200
    screenshot(page, "5-cast")

    # render: the estimate first, then the task
    page.get_by_role("tab", name="Render").click()
    estimate = page.get_by_label("Estimate")
    expect(estimate).to_contain_text(re.compile(r"\d+"))
    screenshot(page, "6-render")
    page.get_by_role("button", name="Render", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    task_url = page.url
    stages = page.get_by_role("list", name="Stages")
    expect(stages).to_be_visible()
    screenshot(page, "7-progress")
    for stage in STAGES:  # every stage reached and finished, as the event stream reported it
        expect(stages.locator(f"[data-stage='{stage}']")).to_have_attribute("data-state", "done",
                                                                           timeout=RENDER_TIMEOUT_MS)

    # listen
    audio = page.get_by_label("Audio player")
    expect(audio).to_have_attribute("src", re.compile(r"^blob:"), timeout=60_000)
    page.get_by_role("button", name="Play").click()
    audio_until(page, "after", 0.5)
    page.locator("body").press(" ")  # space pauses …
    paused_at = audio_until(page, "paused")
    lines = page.get_by_role("list", name="Script lines")
    last = lines.locator("li").last
    start_s = float(last.get_attribute("data-start"))
    last.click()  # … a line click seeks to it
    audio_until(page, "near", start_s)
    assert start_s > paused_at
    expect(page.get_by_test_id("subtitle")).to_contain_text("light")  # the subtitle of that moment
    lanes = page.get_by_role("group", name="Timeline")
    expect(lanes.locator("[data-lane]")).to_have_count(5)  # Mara, Silas, ambience, sfx, chapters
    page.locator("body").press(" ")  # … and space again plays on from there
    audio_until(page, "after", start_s + 0.3)
    screenshot(page, "8-player")

    # download the MP3 and decode it
    with page.expect_download() as download:
        page.get_by_role("button", name="Download MP3").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".mp3"
    samples, sample_rate = decode_mp3(path.read_bytes())
    assert sample_rate == 44100 and samples.shape[0] / sample_rate > 3.0

    # the script's history lists this render; the ledger its charge
    page.goto(script_url)
    page.get_by_role("tab", name="History").click()
    expect(page.get_by_label("Renders of this script")).to_contain_text(re.compile("completed", re.I))
    screenshot(page, "9-history")
    page.get_by_role("link", name="Credits").click()
    expect(page.get_by_label("Transactions")).to_contain_text("Audio generation")
    screenshot(page, "10-credits")

    # another person cannot open this task
    other = new_page()
    register_and_sign_in(other, studio_url)
    other.goto(task_url)
    expect(other.get_by_role("alert")).to_contain_text("Task not found")
    expect(other.get_by_label("Audio player")).to_have_count(0)


def test_the_chinese_ui_renders(studio_url, new_page, screenshot):
    page = new_page(locale="zh-CN")
    page.goto(f"{studio_url}/signin")
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()
    screenshot(page, "zh-sign-in")
    page.get_by_label("语言", exact=True).click(force=True)  # (its selected label covers the input)
    page.get_by_role("option", name="English").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
