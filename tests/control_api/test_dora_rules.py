"""Each rule of reference/dora.md, tested on real dora: the flow as rendered keeps it and succeeds
under stress; the same flow with the rule removed from its YAML fails the way the reference says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from control_api.engines.base import RenderOptions
from control_api.engines.dora import DoraEngine
from nodes.common.errors import TaskTimedOut
from nodes.common.runtime import Stream

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dora")]

BURST_LINES = 150  # 300 segments sent at once to a tts node that is busy
STALL_S = 5.0  # how long the tts node stalls after its first request, as if loading a model
QUEUE_SIZE = 100  # scale model: a queue shorter than the burst, as 1000 is for a novel-length script
STALL_HOOK = Path(__file__).parent / "stall_hook"


def burst_script(lines: int = BURST_LINES) -> str:
    body = "\n".join(f"{'AB'[i % 2]}: Line {i} here. And more." for i in range(lines))
    return "---\nvoices: {A: en-espeak-f, B: en-espeak-m}\n---\n" + body + "\n"


SMALL = {"segmenter": {"max_chars": "default=16", "pack": False}}


@pytest.fixture(scope="session")
def engine(tmp_path_factory, library):
    eng = DoraEngine(library, workdir=tmp_path_factory.mktemp("rules"))
    yield eng
    eng.close()


def run_edited(engine: DoraEngine, tmp_path: Path, script: str, edit, *, timeout_s: float, options=None):
    """Prepare a task, apply ``edit`` to its dataflow text, run it to the end."""
    options = options or RenderOptions(settings=SMALL)
    task_dir = tmp_path / "task"
    yml = engine.prepare(script, tmp_path / "out.mp3", options, task_id=tmp_path.name, task_dir=task_dir,
                         template="drama")
    yml.write_text(edit(yml.read_text(encoding="utf-8")), encoding="utf-8")
    dataflow = engine.start(yml, tmp_path.name)
    return engine.follow(dataflow, task_dir, timeout_s=timeout_s)


def stalled(text: str, node: str = "tts", seconds: float = STALL_S) -> str:
    """Make ``node`` a busy consumer: it sleeps ``seconds`` after its first input (see stall_hook),
    with every queue shorter than the burst."""
    flow = yaml.safe_load(text.replace("queue_size: 1000", f"queue_size: {QUEUE_SIZE}"))
    (spec,) = (n for n in flow["nodes"] if n["id"] == node)
    spec.setdefault("env", {}).update({"PYTHONPATH": str(STALL_HOOK), "DRAMAFLOW_TEST_STALL_S": seconds})
    return yaml.safe_dump(flow, sort_keys=False, allow_unicode=True)


def segments_in(tmp_path: Path) -> int:
    timeline = json.loads((tmp_path / "out.timeline.json").read_text())
    return sum(len(u["segments"]) for u in timeline["utterances"])


# --- rule 1: backpressure on every input -----------------------------------------------------------


def test_backpressure_delivers_a_burst_of_300_segments_to_a_busy_node(engine, tmp_path):
    report = run_edited(engine, tmp_path, burst_script(), stalled, timeout_s=600)
    assert report.segments == 2 * BURST_LINES == segments_in(tmp_path)


def test_without_backpressure_the_burst_to_a_busy_node_loses_segments(engine, tmp_path):
    """The same stalled tts node on drop_oldest: requests beyond what its event channel holds are
    dropped silently while it is busy, so its stream never completes (a flow without seq/EOS
    accounting would instead finish short). dora's node-side channel holds the sum of the input
    queue sizes, so with 1000 the same happens to a script of more than about 1000 segments."""
    def drop_oldest(text: str) -> str:
        return stalled(text.replace("queue_policy: backpressure", "queue_policy: drop_oldest"))

    with pytest.raises(TaskTimedOut):
        run_edited(engine, tmp_path, burst_script(), drop_oldest, timeout_s=60)
    lost = [json.loads(line) for line in (tmp_path / "task" / "progress.jsonl").read_text().splitlines()]
    assert not any(r["stage"] == "tts" and r["total"] == 2 * BURST_LINES for r in lost)  # never got them all


# --- rule 2/4/7: nobody leaves before its consumers; the done cascade ------------------------------


def test_every_node_leaves_when_the_output_node_is_done(engine, tmp_path):
    run_edited(engine, tmp_path, burst_script(4), lambda text: text, timeout_s=300)
    records = [json.loads(line) for line in (tmp_path / "task" / "progress.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in records} == {"segmenter", "tts", "effects", "ambience", "mixer", "output"}


def test_without_the_done_input_the_source_never_finishes(engine, tmp_path):
    def no_done(text: str) -> str:
        return re.sub(r"\n      done: output/done", "", text)

    with pytest.raises(TaskTimedOut):
        run_edited(engine, tmp_path, burst_script(4), no_done, timeout_s=45)
    assert (tmp_path / "out.mp3").exists()  # the output node finished; the segmenter kept the flow alive


# --- rule 6: finish_grace_secs above the slowest call ----------------------------------------------


def test_finish_grace_keeps_a_slow_node_alive_under_a_short_watchdog(tmp_path, library):
    """With the daemon's finish watchdog at 1 s, loading the neural voice (about 2 s, the other nodes
    idle) must not stop a healthy flow. (Removing finish_grace_secs did not trip it here: the nodes
    log progress during long calls. The template test checks every node carries it.)"""
    engine = DoraEngine(library, workdir=tmp_path / "w", daemon_env={"DORA_FINISH_DRAIN_GRACE_SECS": "1"})
    script = "---\nvoices: {A: en-joe}\n---\nA: The neural voice takes a while to load.\n"
    try:
        report = run_edited(engine, tmp_path, script, lambda text: text, timeout_s=300, options=RenderOptions())
        assert report.segments == 1 and (tmp_path / "out.mp3").exists()
    finally:
        engine.close()


# --- rule 3 and §5: in-band end of stream with a count, order by seq -------------------------------


def event(seq=None, eos=False, total=None, value=0.0):
    metadata = {"eos": True, "n_total": total} if eos else {"seq": seq}
    return {"metadata": metadata, "value": value}


def test_a_stream_is_complete_only_with_every_seq_counted_by_its_eos():
    stream = Stream("x")
    for seq in (2, 0):
        stream.add(event(seq, value=seq), lambda e: e["value"])
    assert not stream.complete
    stream.add(event(eos=True, total=3), lambda e: e["value"])
    assert not stream.complete  # the EOS says 3; only 2 arrived
    with pytest.raises(RuntimeError, match=r"missing seq \[1\]"):
        stream.ordered()
    stream.add(event(1, value=1), lambda e: e["value"])
    assert stream.complete
    assert [v for v, _ in stream.ordered()] == [0, 1, 2]  # by seq, not by arrival


def test_duplicate_seq_is_an_error_not_an_overwrite():
    stream = Stream("x")
    stream.add(event(0), lambda e: e["value"])
    with pytest.raises(RuntimeError, match="twice"):
        stream.add(event(0), lambda e: e["value"])


def test_cue_clips_are_handed_over_as_their_last_part_arrives():
    import pyarrow as pa

    from nodes.common.transfer import Clips

    a, b = np.ones((3, 2), np.float32), np.zeros((2, 2), np.float32)

    def part(seq, index, number, parts, audio, kind="ambience"):
        return {"metadata": {"seq": seq, "index": index, "part": number, "parts": parts, "kind": kind,
                             "channels": 2}, "value": pa.array(audio.ravel())}

    clips = Clips("cues")
    assert clips.add(part(0, 4, 0, 2, a)) is None
    kind, index, bed = clips.add(part(1, 4, 1, 2, b))
    assert (kind, index, bed.shape) == ("ambience", 4, (5, 2)) and np.array_equal(bed[:3], a)
    assert clips.add(part(2, 7, 0, 1, b, "sfx"))[:2] == ("sfx", 7)
    assert not clips.complete
    clips.add({"metadata": {"eos": True, "n_total": 3}, "value": None})
    assert clips.complete
    with pytest.raises(RuntimeError, match="twice"):
        clips.add(part(2, 7, 0, 1, b, "sfx"))
    with pytest.raises(RuntimeError, match="out of order"):
        Clips("cues").add(part(0, 1, 1, 2, b, "sfx"))


def test_the_master_travels_as_a_float_wav_with_its_bits(tmp_path, monkeypatch):
    from nodes.common import programme
    from nodes.common.programme import ProgrammeFile, programme_blocks

    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((10_001, 2)) * 0.3).astype(np.float32)
    written = ProgrammeFile.write(tmp_path / "mix.wav", audio, 44100)
    again = ProgrammeFile.from_facts(written.facts())
    assert again == written and again.shape == (10_001, 2)
    blocks = list(again.blocks(4096))
    assert [len(b) for b in blocks] == [4096, 4096, 1809]
    assert np.concatenate(blocks).tobytes() == audio.tobytes()
    assert np.concatenate(list(programme_blocks(audio, 4096))).tobytes() == audio.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"]  # no partial file left
    monkeypatch.setattr(programme, "WAV_MAX_BYTES", 1000)  # past 4 GiB a WAV cannot say its size
    big = ProgrammeFile.write(tmp_path / "big.wav", audio, 44100)
    assert (tmp_path / "big.wav").read_bytes()[:4] == b"RF64"
    assert np.concatenate(list(big.blocks(1 << 19))).tobytes() == audio.tobytes()
    short = ProgrammeFile(written.path, 44100, 10_002, 2)
    with pytest.raises(RuntimeError, match="holds 10001 samples, not 10002"):
        list(short.blocks(4096))
