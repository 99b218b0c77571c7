"""``dramaflow adapt``: a chapter into a script file that parses, with the checks printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nodes.segmenter.core import parse_script

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]


def test_adapt_writes_a_script_that_parses_and_prints_the_checks(tmp_path, library):
    target = tmp_path / "ferry" / "chapter.md"
    proc = subprocess.run([str(BIN / "dramaflow"), "adapt", str(ROOT / "scripts" / "chapter-en.txt"), "-o",
                           str(target), "--offline"], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": str(BIN)})
    assert proc.returncode == 0, proc.stderr
    assert "speakers: Tomas, Ada; 4 speech tags became speakers; 100.0 % of the text kept" in proc.stderr
    assert "warning" not in proc.stderr  # --offline asked for the rules
    plan = parse_script(target.read_text(encoding="utf-8"), library)
    assert plan.title == "The Ferry at Low Water" and {u.speaker for u in plan.utterances} == {
        "Narrator", "Tomas", "Ada"}


def test_adapt_names_a_bad_language_and_writes_nothing(tmp_path):
    target = tmp_path / "out.md"
    proc = subprocess.run([str(BIN / "dramaflow"), "adapt", str(ROOT / "scripts" / "chapter-en.txt"), "-o",
                           str(target), "--language", "fr"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "choose en or zh" in proc.stderr and not target.exists()


def test_write_drafts_a_checked_script_with_the_configured_model(tmp_path, library, chat):
    from tests.control_api.writer.test_author import BROKEN, GOOD

    chat.replies(BROKEN, GOOD, BROKEN, BROKEN)
    env = {"COLUMNS": "200", "PATH": str(BIN), **chat.env()}
    target = tmp_path / "episode.md"
    args = [str(BIN / "dramaflow"), "write", "why the tide turns", "--style", "interview", "--minutes", "0.5",
            "-s", "Host=en-joe:curious", "-s", "Guest=en-espeak-f:an oceanographer", "-o", str(target)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "2 call(s)" in proc.stderr and target.read_text(encoding="utf-8") == GOOD
    assert parse_script(GOOD, library).title == "Tides"
    second = tmp_path / "second.md"
    failed = subprocess.run([*args[:-1], str(second)], capture_output=True, text=True, timeout=120, env=env)
    assert failed.returncode == 1 and "unknown speaker 'Gust'" in failed.stderr and not second.exists()
    unset = subprocess.run(args, capture_output=True, text=True, timeout=120, env={"PATH": str(BIN)})
    assert unset.returncode == 2 and "DRAMAFLOW_LLM_BASE_URL" in unset.stderr


def test_adapt_uses_the_configured_model_and_prints_what_it_put_back(tmp_path, library, chat):
    from tests.control_api.writer.examples import SHORT_REPLY

    chat.replies(SHORT_REPLY)
    target = tmp_path / "chapter.md"
    proc = subprocess.run([str(BIN / "dramaflow"), "adapt", str(ROOT / "scripts" / "chapter-en.txt"), "-o",
                           str(target)], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": str(BIN), **chat.env()})
    assert proc.returncode == 0, proc.stderr
    assert "speakers: Tomas, Ada, Ferryman" in proc.stderr and "1 chunk(s)" in proc.stderr
    assert "chunk 1/1 adapted" in proc.stderr and "warning" not in proc.stderr
    restored = [line for line in proc.stderr.splitlines() if line.startswith("restored, line")]
    assert any("a dog barked twice" in line for line in restored)
    assert any("the ferryman put his head out" in line for line in restored)
    lines = target.read_text(encoding="utf-8").split("\n")
    number = int(restored[0].split("line ")[1].split(":")[0])
    assert lines[number - 2].startswith("<!-- restored") and lines[number - 1].startswith("**Narrator:**")
    assert len(chat.log()) == 1


def test_adapt_without_a_model_warns_and_uses_the_rules(tmp_path):
    proc = subprocess.run([str(BIN / "dramaflow"), "adapt", str(ROOT / "scripts" / "chapter-zh.txt")],
                          capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": str(BIN)})
    assert proc.returncode == 0 and "warning" in proc.stderr and "DRAMAFLOW_LLM_BASE_URL" in proc.stderr
    assert "**老周" in proc.stdout
