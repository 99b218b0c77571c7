"""dora node ``output``: ``timeline`` + ``mix`` → the files, then exit. It is the last node: its exit
closes ``done`` in every upstream node, which then leave in cascade (its ``done`` is never sent).

Env: DRAMAFLOW_OUTPUT (the MP3 path), DRAMAFLOW_MP3_BITRATE_KBPS, DRAMAFLOW_MAX_TRUE_PEAK_DBTP.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from nodes.common import contract as C
from nodes.common.runtime import Runner, json_from
from nodes.common.settings import config_from_env
from nodes.common.transfer import Programme
from nodes.common.types import Timeline
from nodes.output.core import OutputSettings, write_outputs


def main() -> None:
    runner = Runner(C.OUTPUT)
    with runner.failing_loudly():
        settings = config_from_env(OutputSettings, os.environ)
        document = None
        programme = Programme(C.MIX)
        for event in runner.events((C.TIMELINE, C.MIX)):
            if event["id"] == C.TIMELINE:
                document = json_from(event)
            else:
                programme.add(event)
            if document is not None and programme.complete:
                break
        timeline = Timeline.from_dict(document["timeline"])
        master, eos = programme.audio, programme.eos_metadata
        del programme
        runner.progress(0, 1, "encoding")
        written = write_outputs(
            Path(os.environ[C.ENV_OUTPUT]), master, timeline.sample_rate, timeline, title=timeline.title,
            max_true_peak_dbtp=settings.max_true_peak_dbtp, bitrate_kbps=settings.mp3_bitrate_kbps,
            extra_report={"engine": "dora", "seed": document["seed"], "lufs": eos["lufs"],
                          "true_peak_dbtp": eos["true_peak_dbtp"], "warnings": document["warnings"],
                          "tts": document["tts"], "ambience": document["ambience"]},
        )
        report = {**asdict(written), "files": {k: str(v) for k, v in asdict(written.files).items()}}
        (runner.context.task_dir / "output.json").write_text(json.dumps(report, ensure_ascii=False, default=str))
        runner.progress(1, 1, f"wrote {written.files.mp3.name}")


if __name__ == "__main__":
    main()
