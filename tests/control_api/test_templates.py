"""Templates: sandboxed, strict, YAML-safe, wired right, valid for dora; the checked-in dataflows match."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from control_api.templates import (
    SAMPLE_TASK,
    TEMPLATES_DIR,
    check_all,
    check_wiring,
    render,
    stage_settings,
    template_names,
    yaml_scalar,
)
from nodes.common import contract as C
from nodes.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NODE_KEYS = {"id", "path", "finish_grace_secs", "inputs", "outputs", "env"}
HOSTILE = [
    'en-joe"\n  - id: evil\n    path: /bin/sh',
    "x: y\nnodes: []",
    "{{ 7 * 7 }} {% raw %}",
    "line\u2028break\u0085next\u2029",
    "$HOME ${PATH}",
    "'single' \"double\" \\ back",
    "tab\there\rcr",
]


def test_every_template_passes_check():
    assert template_names() == ["drama", "podcast"]
    assert check_all() == {"drama": [], "podcast": []}


@pytest.mark.parametrize("name", ["drama", "podcast"])
@pytest.mark.parametrize("hostile", HOSTILE)
def test_user_values_cannot_add_keys_or_nodes(name, hostile):
    text = render(name, SAMPLE_TASK, title=hostile, voices={hostile: hostile, "Narrator": hostile})
    doc = yaml.safe_load(text)
    assert set(doc) == {"nodes"}
    assert [n["id"] for n in doc["nodes"]] == list(C.NODES)
    for node in doc["nodes"]:
        assert set(node) == NODE_KEYS
        assert all(str(v).strip() != hostile for v in node["env"].values())  # user text never in env
    assert "49" not in text.split("nodes:")[0] or "{{ 7 * 7 }}" not in hostile  # rendered once, not twice
    if "{{" in hostile:
        assert "{{ 7 * 7 }}" in text


@pytest.mark.parametrize("value", HOSTILE + ["", "plain", "0", "true", "null", "- item", "# hash"])
def test_yaml_scalar_round_trips(value):
    assert yaml.safe_load(f"key: {yaml_scalar(value)}") == {"key": value}


def test_scalars_of_other_types():
    assert [yaml_scalar(v) for v in (None, True, 3, 0.5)] == ["null", "true", "3", "0.5"]
    with pytest.raises(ConfigError):
        yaml_scalar(float("nan"))


def test_paths_with_dollar_are_refused():
    from dataclasses import replace

    with pytest.raises(ConfigError, match=r"\$"):
        render("drama", replace(SAMPLE_TASK, output="/tmp/$HOME/x.mp3"))


@pytest.mark.parametrize("value", ["/srv/$USER/sounds", ["$DRAMAFLOW_DATABASE_URL"], {"x": "${HOME}"},
                                   [["$MINIMAX_API_KEY"]], {"$HOME": 1}])
def test_a_dollar_in_a_setting_of_any_shape_is_refused(value):
    with pytest.raises(ConfigError, match=r"ambience\.library contains '\$'"):
        render("drama", SAMPLE_TASK, options={"ambience": {"library": value}})


@pytest.mark.parametrize(("settings", "needle"), [
    ({"mix": {"target_lufs": "nan"}}, "target_lufs"), ({"mix": {"target_lufs": "inf"}}, "target_lufs"),
    ({"layout": {"sample_rate": 0}}, "sample_rate must be one of"),
    ({"layout": {"sample_rate": 10**7}}, "sample_rate must be one of"),
    ({"layout": {"tail_s": 1e9}}, "tail_s must be between 0 and 60"),
    ({"layout": {"speaker_gap_s": "1e9,1e9"}}, "speaker_gap_s must be between 0 and 10"),
    ({"mix": {"duck_db": 10**400}}, "mix.duck_db is out of range"),
    ({"mix": {"duck_db": [3]}}, "must be a number, a boolean or a string"),
    ({"output": {"mp3_bitrate_kbps": 100}}, "mp3_bitrate_kbps must be one of"),
    ({"segmenter": {"max_chars": "zh=0"}}, "between 1 and 9999"),
    ({"tts": {"line_deadline_s": 1e6}}, "line_deadline_s must be between"),
])
def test_settings_are_typed_and_range_checked_before_anything_runs(settings, needle):
    with pytest.raises(ConfigError, match=needle):
        stage_settings("drama", settings)


def test_what_reaches_env_is_written_back_from_the_typed_value():
    text = render("drama", SAMPLE_TASK, options={"mix": {"duck_db": "12"}, "layout": {"speaker_gap_s": " 0.2 , 0.5"},
                                                 "segmenter": {"max_chars": "zh=90"}})
    envs = {n["id"]: n["env"] for n in yaml.safe_load(text)["nodes"]}
    assert envs["mixer"]["DRAMAFLOW_DUCK_DB"] == 12.0  # a number, not the string the user sent
    assert envs["ambience"]["DRAMAFLOW_SPEAKER_GAP_S"] == "0.2,0.5"
    assert envs["segmenter"]["DRAMAFLOW_MAX_CHARS"] == "zh=90"


def write_template(tmp_path: Path, body: str) -> Path:
    (tmp_path / "t.yml.j2").write_text(body, encoding="utf-8")
    return tmp_path


def test_undefined_variables_are_errors_not_blanks(tmp_path):
    directory = write_template(tmp_path, "nodes:\n  - id: {{ no_such_variable }}\n")
    with pytest.raises(ConfigError, match="no_such_variable"):
        render("t", SAMPLE_TASK, directory=directory)


def test_the_sandbox_blocks_python_internals(tmp_path):
    directory = write_template(tmp_path, "{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(ConfigError):
        render("t", SAMPLE_TASK, directory=directory)


def test_unknown_template_lists_the_known_ones():
    with pytest.raises(ConfigError, match="drama, podcast"):
        render("opera", SAMPLE_TASK)


def test_wiring_check_finds_problems():
    good = render("drama", SAMPLE_TASK)
    assert check_wiring(good) == []
    assert any("not an output" in p for p in check_wiring(good.replace("source: tts/speech", "source: tts/speach")))
    assert any("duplicate" in p for p in check_wiring(good.replace("id: effects", "id: tts")))
    assert any("backpressure" in p for p in check_wiring(render("drama", SAMPLE_TASK, queue_policy="drop_oldest")))


@pytest.mark.parametrize("name", ["drama", "podcast"])
def test_templates_keep_the_dora_rules(name):
    nodes = {n["id"]: n for n in yaml.safe_load(render(name, SAMPLE_TASK))["nodes"]}
    for node_id, node in nodes.items():
        assert node["finish_grace_secs"] >= 3600  # the 120 s watchdog must never stop a long TTS call
        inputs = node.get("inputs", {})
        if node_id != C.OUTPUT:
            assert inputs[C.DONE] == "output/done"  # the cascade: every upstream node leaves when output does
        for input_name, spec in inputs.items():
            if input_name != C.DONE:
                assert spec["queue_policy"] == "backpressure" and spec["queue_size"] >= 1000
    assert nodes[C.OUTPUT]["outputs"] == [C.DONE]


def test_template_defaults_and_task_overrides():
    drama, podcast = stage_settings("drama"), stage_settings("podcast")
    assert drama.layout.speaker_gap_s == (0.3, 1.2) and podcast.layout.speaker_gap_s == (0.25, 0.8)
    assert podcast.mix.ambience_below_speech_db == 26.0 and drama.mix.ambience_below_speech_db == 20.0
    custom = stage_settings("podcast", {"mix": {"duck_db": 12.0}, "layout": {"tail_s": 4.0}})
    assert custom.mix.duck_db == 12.0 and custom.layout.tail_s == 4.0
    assert custom.layout.speaker_gap_s == (0.25, 0.8)  # the template's value where nothing overrides it
    with pytest.raises(ConfigError, match="unknown setting group"):
        stage_settings("drama", {"mixx": {"duck_db": 1}})


@pytest.mark.parametrize("name", template_names())
def test_a_setting_the_template_does_not_have_is_an_error_not_ignored(name):
    with pytest.raises(ConfigError, match=r"no setting mix\.duck_dbb, layout\.tial_s"):
        stage_settings(name, {"mix": {"duck_dbb": 12.0}, "layout": {"tial_s": 1}})
    with pytest.raises(ConfigError, match=r"tts\.attempts is now tts\.line_deadline_s"):
        stage_settings(name, {"tts": {"attempts": 5}})
    retry = stage_settings(name, {"tts": {"line_deadline_s": 30, "task_budget_s": 100}}).retry
    assert (retry.line_deadline_s, retry.task_budget_s) == (30.0, 100.0)


@pytest.mark.parametrize("name, script, out", [
    ("drama", "scripts/the-lighthouse.md", "out/dataflows/drama/the-lighthouse.mp3"),
    ("podcast", "scripts/mofa-podcast-zh.md", "out/dataflows/podcast/mofa-podcast-zh.mp3"),
])
def test_checked_in_dataflows_are_current(name, script, out):
    """CI re-renders every example dataflow and fails on a diff (regenerate with `make dataflows`).

    It renders beside the checked-in file (same folder, so the same relative paths) and compares."""
    import uuid

    target = ROOT / "dataflows" / f".check-{uuid.uuid4().hex}.yml"
    try:
        proc = subprocess.run([sys.executable, "-m", "control_api.cli", "templates", "render", name, "-s", script,
                               "-o", out, "-d", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        rendered = target.read_text(encoding="utf-8")
    finally:
        target.unlink(missing_ok=True)
    expected = (ROOT / "dataflows" / f"{name}.yml").read_text(encoding="utf-8")
    assert rendered == expected, "dataflows/ is stale: run `make dataflows`"


def test_templates_cli(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "control_api.cli", "templates", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    listed = cli("list")
    assert listed.returncode == 0 and "drama" in listed.stdout and "podcast" in listed.stdout
    shown = cli("show", "podcast")
    assert shown.returncode == 0 and "include" in shown.stdout
    assert cli("show", "opera").returncode == 2
    checked = cli("check")
    assert checked.returncode == 0 and "drama: ok" in checked.stderr
    rendered = cli("render", "podcast", "-s", "scripts/mofa-podcast-zh.md", "-o", str(tmp_path / "p.mp3"),
                   "--set", "mix.duck_db=11")
    assert rendered.returncode == 0
    assert "DRAMAFLOW_DUCK_DB: 11" in rendered.stdout
    assert (TEMPLATES_DIR / "_flow.yml.j2").exists()
