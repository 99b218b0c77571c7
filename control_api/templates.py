"""Dataflow templates: sandboxed Jinja2 → dora YAML, and the checks ``dramaflow templates check`` runs.

User values are emitted through the ``yaml`` filter: a JSON-style double-quoted scalar with every
line break escaped, so a voice id or title holding a newline, quote, colon or ``{{`` stays one scalar
and can never add a key or a node. Rendering is single-pass: values are never rendered again.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from nodes.common import contract as C
from nodes.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = ROOT / "templates"
SUFFIX = ".yml.j2"
QUEUE_SIZE = 1000
QUEUE_POLICY = "backpressure"
FINISH_GRACE_SECS = 3600  # above the slowest TTS call; dora's default watchdog fires after 120 s
_LINE_BREAKS = {"\u0085": "\\N", "\u2028": "\\L", "\u2029": "\\P"}


def yaml_scalar(value: Any) -> str:
    """One YAML flow scalar for ``value``; strings are double-quoted with every break escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{value} cannot go into a dataflow")
        return repr(value)
    text = json.dumps(str(value), ensure_ascii=False)  # escapes quotes, backslashes, \n, \r, controls
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text


def template_names(directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in directory.glob(f"*{SUFFIX}") if not p.name.startswith("_"))


def _environment(directory: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)
    env.filters["yaml"] = yaml_scalar
    return env


def template_source(name: str, directory: Path = TEMPLATES_DIR) -> str:
    path = directory / f"{name}{SUFFIX}"
    if name not in template_names(directory):
        raise ConfigError(f"unknown template {name!r}; available: {', '.join(template_names(directory))}")
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class TaskPaths:
    """Where a task's files are. Paths may be relative to the dataflow file's folder."""

    id: str
    dir: str
    script: str
    output: str
    voice_config: str | None = None
    voices_file: str | None = None
    seed: int | None = None


def node_commands(relative_to: Path | None = None) -> dict[str, str]:
    """The console script of every node, in this environment (absolute, or relative to a folder)."""
    bin_dir = Path(sys.executable).parent
    commands = {}
    for node in C.NODES:
        path = bin_dir / f"node-{node}"
        commands[node] = os.path.relpath(path, relative_to) if relative_to else str(path)
    return commands


def render(
    name: str,
    task: TaskPaths,
    *,
    title: str = "",
    voices: Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    nodes: Mapping[str, str] | None = None,
    queue_policy: str = QUEUE_POLICY,
    directory: Path = TEMPLATES_DIR,
) -> str:
    """Render template ``name`` for one task. Raises ``ConfigError`` naming what is wrong.

    A task's ``options`` never reach the YAML as the user wrote them: they are checked (scalars, no
    ``$``, keys the template has), parsed into the stage configs with their ranges, and what is rendered
    is the value written back from the typed config (``canonical_settings``)."""
    template_source(name, directory)  # unknown names fail with the list of templates
    for label, value in (("task folder", task.dir), ("script", task.script), ("output", task.output),
                         ("voice config", task.voice_config), ("voices file", task.voices_file)):
        if value and "$" in value:
            raise ConfigError(f"{label} path {value!r} contains '$', which dora would expand; use another path")
    options = canonical_settings(name, options, directory) if options else {}
    return _render_text(name, task, title=title, voices=voices, options=options, nodes=nodes,
                        queue_policy=queue_policy, directory=directory)


def _context(name: str, task: TaskPaths, *, title: str, voices: Mapping[str, Any] | None,
             options: Mapping[str, Mapping[str, Any]], nodes: Mapping[str, str] | None, queue_policy: str) -> dict:
    return {
        "template": name, "task": task, "title": title, "voices": dict(voices or {}),
        "nodes": dict(nodes or node_commands()), "options": options,
        **{group: options.get(group, {}) for group in C.SETTING_GROUPS},
        "queue_size": QUEUE_SIZE, "queue_policy": queue_policy, "finish_grace_secs": FINISH_GRACE_SECS,
    }


def _render_text(name: str, task: TaskPaths, *, title: str, voices: Mapping[str, Any] | None,
                 options: Mapping[str, Mapping[str, Any]], nodes: Mapping[str, str] | None, queue_policy: str,
                 directory: Path) -> str:
    options = {group: _Read(values) for group, values in options.items()}
    context = _context(name, task, title=title, voices=voices, options=options, nodes=nodes, queue_policy=queue_policy)
    try:
        text = _environment(directory).get_template(f"{name}{SUFFIX}").render(context)
    except TemplateNotFound as exc:
        raise ConfigError(f"template {name!r} includes a missing file: {exc}") from None
    except TemplateError as exc:
        raise ConfigError(f"template {name!r}: {exc}") from None
    except KeyError as exc:
        raise ConfigError(f"template {name!r}: no default for setting {exc}") from None
    unread = [f"{group}.{key}" for group, values in options.items() for key in values if key not in values.read]
    if unread:  # a setting nobody reads would be dropped silently
        hints = [f"{key} is now {RENAMED[key]}" for key in unread if key in RENAMED]
        raise ConfigError(f"template {name!r} has no setting {', '.join(unread)}"
                          + (f" ({'; '.join(hints)})" if hints else "")
                          + f"; its settings are the `defaults` at the top of templates/{name}{SUFFIX}")
    return text


def template_defaults(name: str, directory: Path = TEMPLATES_DIR) -> dict[str, dict[str, Any]]:
    """The ``defaults`` a template sets at its top: group → {key: value}, the settings a task may change."""
    template_source(name, directory)
    context = _context(name, SAMPLE_TASK, title="", voices=None, options={}, nodes=None, queue_policy=QUEUE_POLICY)
    module = _environment(directory).get_template(f"{name}{SUFFIX}").make_module(context)
    return {group: dict(values) for group, values in dict(getattr(module, "defaults", {})).items()}


def template_settings(name: str, directory: Path = TEMPLATES_DIR) -> list[dict[str, Any]]:
    """Every setting of template ``name`` with its default, kind and the range or choices the stage
    accepts (what a settings form offers; the API checks the values again at submission)."""
    from nodes.ambience.backends.registry import BACKENDS
    from nodes.common.layout import LAYOUT_RANGES, SAMPLE_RATES
    from nodes.mixer.core import MIX_RANGES
    from nodes.output.core import MP3_BITRATES_KBPS, OUTPUT_RANGES
    from nodes.tts.core import RETRY_RANGES

    ranges = {"tts": RETRY_RANGES, "layout": LAYOUT_RANGES, "mix": MIX_RANGES, "output": OUTPUT_RANGES,
              "ambience": {"steps": (1, 200), "guidance_scale": (1.0, 20.0), "loop_crossfade_s": (0.0, 10.0)}}
    choices = {("layout", "sample_rate"): SAMPLE_RATES, ("output", "mp3_bitrate_kbps"): MP3_BITRATES_KBPS,
               ("ambience", "backend"): tuple(BACKENDS)}
    rows = []
    for group, values in template_defaults(name, directory).items():
        for key, default in values.items():
            low, high = ranges.get(group, {}).get(key, (None, None))
            options = choices.get((group, key))
            kind = ("choice" if options else "boolean" if isinstance(default, bool) else
                    "integer" if isinstance(default, int) else "number" if isinstance(default, float) else "string")
            string_range = kind == "string"  # "0.3,1.2" pairs and "zh=80,…" maps: checked as a whole
            rows.append({"group": group, "key": key, "default": default, "kind": kind,
                         "minimum": None if string_range else low, "maximum": None if string_range else high,
                         "choices": list(options) if options else None})
    return rows


# Settings that were renamed: the old name gets an error that gives the new one.
RENAMED = {"tts.attempts": "tts.line_deadline_s (retries run on a time budget, see tts.task_budget_s)"}
# setting group → the StageSettings field that holds its typed config
GROUP_CONFIG = {"segmenter": "segmenter", "tts": "retry", "ambience": "ambience", "layout": "layout", "mix": "mix",
                "output": "output"}
MAX_SAFE_INT = 2**53


def _carries_dollar(value: Any) -> bool:
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, Mapping):
        return any(_carries_dollar(k) or _carries_dollar(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(_carries_dollar(v) for v in value)
    return False


def check_setting_values(options: Mapping[str, Any]) -> None:
    """Every setting is one number, boolean or string, finite, and carries no ``$`` anywhere (dora
    expands ``$VAR`` in ``env:``: a worker's secrets would come back in warnings)."""
    unknown = sorted(str(g) for g in options if g not in GROUP_CONFIG)
    if unknown:
        raise ConfigError(f"unknown setting group(s) {', '.join(unknown)}; groups: {', '.join(GROUP_CONFIG)}")
    for group, values in options.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"settings.{group} must map setting names to values")
        for key, value in values.items():
            where = f"setting {group}.{key}"
            if _carries_dollar(key) or _carries_dollar(value):
                raise ConfigError(f"{where} contains '$', which dora would expand in env:; remove it")
            if value is None or not isinstance(value, str | int | float | bool):
                raise ConfigError(f"{where} must be a number, a boolean or a string, not {type(value).__name__}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{where} must be a finite number")
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INT:
                raise ConfigError(f"{where} is out of range")
            if isinstance(value, str) and (len(value) > 200 or not value.isprintable()):
                raise ConfigError(f"{where} must be at most 200 printable characters")


def canonical_settings(name: str, options: Mapping[str, Mapping[str, Any]],
                       directory: Path = TEMPLATES_DIR) -> dict[str, dict[str, Any]]:
    """``options`` checked, parsed into the stage configs (types and ranges, as the nodes will), and
    written back from the typed values: what a template renders is never the user's text."""
    check_setting_values(options)
    text = _render_text(name, SAMPLE_TASK, title="", voices=None, options=options, nodes=None,
                        queue_policy=QUEUE_POLICY, directory=directory)
    try:
        stages = _stages_from_env(_node_envs(text))
    except ConfigError as exc:  # name the setting as the user wrote it, not the variable it becomes
        message = re.sub(r"DRAMAFLOW_(?:AMBIENCE_)?([A-Z0-9_]+)", lambda m: m.group(1).lower(), str(exc))
        raise ConfigError(f"task settings: {message}") from None
    out: dict[str, dict[str, Any]] = {}
    for group, values in options.items():
        config = getattr(stages, GROUP_CONFIG[group])
        out[group] = {key: _written(getattr(config, f"ambience_{key}" if group == "ambience" else key))
                      for key in values}
    return out


def _written(value: Any) -> Any:
    """A typed setting as the template writes it into ``env:`` (the format ``config_from_env`` reads)."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={int(v)}" for k, v in value.items())
    if isinstance(value, tuple):
        return ",".join(repr(float(v)) for v in value)
    return value


class _Read(dict):
    """A group of task settings that records which keys the template read."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


def check_wiring(text: str) -> list[str]:
    """Problems in a rendered dataflow: YAML errors, duplicate ids, inputs naming missing outputs,
    data inputs without backpressure. Empty list: fine."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"not valid YAML: {exc}"]
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if not isinstance(nodes, list) or not nodes:
        return ["no nodes"]
    problems: list[str] = []
    ids = [n.get("id") for n in nodes]
    problems += [f"duplicate node id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    outputs = {n.get("id"): set(n.get("outputs") or []) for n in nodes}
    for n in nodes:
        for name, spec in (n.get("inputs") or {}).items():
            source = spec if isinstance(spec, str) else spec.get("source", "")
            node_id, _, output = str(source).partition("/")
            if node_id not in outputs or output not in outputs[node_id]:
                problems.append(f"{n.get('id')}.{name}: {source!r} is not an output of any node")
            if name != C.DONE and (isinstance(spec, str) or spec.get("queue_policy") != "backpressure"):
                problems.append(f"{n.get('id')}.{name}: data input without queue_policy: backpressure")
    return problems


def dora_binary() -> str:
    found = shutil.which("dora", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise ConfigError("the dora CLI is not installed (pip install dora-rs-cli==1.1.0)")
    return found


def dora_validate(path: Path) -> tuple[bool, str]:
    """Run ``dora validate`` on a rendered file; (ok, its message)."""
    proc = subprocess.run([dora_binary(), "validate", str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "RUST_BACKTRACE": "0"})
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


SAMPLE_TASK = TaskPaths(id="00000000-0000-0000-0000-000000000000", dir=".", script="script.md",
                        output="out/output.mp3", voice_config="voice_config.json", seed=7)
SAMPLE_VOICES = {"Narrator": "en-joe", 'Tricky "name": {{ x }}\nnodes:': "en-joe-deep"}


def check_all(directory: Path = TEMPLATES_DIR, work_dir: Path | None = None) -> dict[str, list[str]]:
    """Render every template with sample data (hostile names included), parse, check wiring, and
    ``dora validate``. Returns template → problems (empty when it passes)."""
    import tempfile

    results: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for name in template_names(directory):
            try:
                text = render(name, SAMPLE_TASK, title="Sample: {{ title }}\n- id: evil", voices=SAMPLE_VOICES,
                              directory=directory)
            except ConfigError as exc:
                results[name] = [str(exc)]
                continue
            problems = check_wiring(text)
            ids = [n["id"] for n in (yaml.safe_load(text) or {}).get("nodes", [])] if not problems else []
            if not problems and ids != list(C.NODES):
                problems.append(f"nodes are {ids}, expected {list(C.NODES)}")
            if not problems:
                path = Path(tmp) / f"{name}.yml"
                path.write_text(text, encoding="utf-8")
                ok, message = dora_validate(path)
                if not ok:
                    problems.append(f"dora validate: {message[-500:]}")
            results[name] = problems
    return results


def stage_settings(name: str | None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    """The ``StageSettings`` template ``name`` gives its nodes (``None``: code defaults + overrides).

    The DirectEngine uses this, so it runs with exactly the settings of the dora nodes of that template.
    """
    from nodes.common.settings import env_name

    if name is None:
        check_setting_values(overrides or {})
        env = {node: {env_name(f"ambience_{k}" if group == "ambience" else k): str(v).lower()
                      if isinstance(v, bool) else str(v)
                      for group, values in (overrides or {}).items() for k, v in values.items()}
               for node in C.NODES}
    else:
        env = _node_envs(render(name, SAMPLE_TASK, options=overrides or {}))
    return _stages_from_env(env)


def _node_envs(text: str) -> dict[str, dict[str, str]]:
    return {n["id"]: {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (n.get("env") or {}).items()}
            for n in yaml.safe_load(text)["nodes"]}


def _stages_from_env(env: Mapping[str, Mapping[str, str]]) -> Any:
    from control_api.engines.base import StageSettings
    from nodes.ambience.core import AmbienceConfig
    from nodes.common.layout import LayoutConfig
    from nodes.common.settings import config_from_env
    from nodes.mixer.core import MixConfig
    from nodes.output.core import OutputSettings
    from nodes.segmenter.core import SegmenterConfig
    from nodes.tts.core import RetryPolicy

    return StageSettings(
        segmenter=config_from_env(SegmenterConfig, env[C.SEGMENTER]),
        layout=config_from_env(LayoutConfig, env[C.AMBIENCE]),
        mix=config_from_env(MixConfig, env[C.MIXER]),
        retry=config_from_env(RetryPolicy, env[C.TTS]),
        ambience=config_from_env(AmbienceConfig, env[C.AMBIENCE]),
        output=config_from_env(OutputSettings, env[C.OUTPUT]),
    )
