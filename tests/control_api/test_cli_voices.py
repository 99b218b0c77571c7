"""``dramaflow voices list`` filters and ``dramaflow voices audition``, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
SPEAKER_GAP_S = 1.0  # control_api.audition.SPEAKER_GAP_S


def dramaflow(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "control_api.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def listed(*filters: str) -> set[str]:
    result = dramaflow("voices", "list", "--json", *filters)
    assert result.returncode == 0, result.stderr
    return {r["id"] for r in json.loads(result.stdout)}


def test_list_filters_by_casting_tags(library):
    assert listed("--gender", "female", "--age", "old") == {
        vid for vid, e in library.entries.items() if e.gender == "female" and e.age and e.age[1] >= 60}
    assert listed("--gender", "female", "--age", "old") == {"en-mara", "zh-baker-old"}
    male_zh = listed("--language", "zh", "--gender", "male")
    assert male_zh and all(library.entries[v].language == "zh" and library.entries[v].gender == "male" for v in male_zh)
    assert listed("--accent", "british") == {"en-espeak-m"}
    assert listed("--style", "weathered", "--style", "slow") == {"en-joe-old", "zh-baker-old"}
    assert listed("--provider", "kokoro") == {v for v, e in library.entries.items() if e.provider == "kokoro"}


def test_list_rows_carry_tags_and_licences():
    rows = {r["id"]: r for r in json.loads(dramaflow("voices", "list", "--json").stdout)}
    assert rows["en-ada"]["age"] == [22, 35] and rows["en-ada"]["gender"] == "female"
    assert "Apache-2.0" in rows["en-ada"]["licence"] and "non-commercial" in rows["zh-baker"]["licence"]


def test_list_says_what_is_wrong_with_a_filter_and_when_nothing_fits():
    bad = dramaflow("voices", "list", "--age", "ancient")
    assert bad.returncode == 2 and "age 'ancient' is not a range" in bad.stderr
    none = dramaflow("voices", "list", "--gender", "male", "--age", "child")
    assert none.returncode == 1 and "no voice fits" in none.stderr


def test_audition_writes_each_speakers_first_lines_and_all_of_them_in_turn(tmp_path):
    script = tmp_path / "cast.md"
    script.write_text(
        "---\nvoices: {Host: en-joe, Zoë: en-espeak-f}\n---\n"
        "Host: Welcome back.\n\nZoë: Thanks.\n\nHost: Second line.\n\nZoë: Mine too.\n\nHost: A third, not heard.\n",
        encoding="utf-8")
    out = tmp_path / "aud"
    result = dramaflow("voices", "audition", str(script), "--lines", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["01-Host.wav", "02-Zo.wav", "all.wav"]
    host, rate = sf.read(out / "01-Host.wav")
    zoe, _ = sf.read(out / "02-Zo.wav")
    together, _ = sf.read(out / "all.wav")
    assert len(together) == len(host) + len(zoe) + int(SPEAKER_GAP_S * rate)
    one, _ = sf.read(_single_line(tmp_path, "Host: Welcome back.\n"))
    assert len(host) > 1.5 * len(one)  # two lines, not three: the third would add about as much again
    assert len(host) < 3.0 * len(one)
    assert "en-joe" in result.stdout and "en-espeak-f" in result.stdout


def _single_line(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "one.md"
    script.write_text("---\nvoices: {Host: en-joe}\n---\n" + body, encoding="utf-8")
    result = dramaflow("voices", "audition", str(script), "-o", str(tmp_path / "one"))
    assert result.returncode == 0, result.stderr
    return tmp_path / "one" / "01-Host.wav"


def test_audition_reports_a_script_error_with_its_line(tmp_path):
    script = tmp_path / "bad.md"
    script.write_text("---\nvoices: {Host: en-nobody}\n---\nHost: Hi.\n", encoding="utf-8")
    result = dramaflow("voices", "audition", str(script), "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and "unknown voice 'en-nobody'" in result.stderr
    assert not (tmp_path / "x").exists()
