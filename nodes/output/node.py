"""dora node ``output``: ``timeline`` + ``scene`` + ``mix`` (where the mixer wrote the master) → the
files, then exit; the master's file is removed once they are written. It is the last node: its exit
closes ``done`` in every upstream node, which then leave in cascade (its ``done`` is never sent).

Env: DRAMAFLOW_OUTPUT (the MP3 path), DRAMAFLOW_MP3_BITRATE_KBPS, DRAMAFLOW_MAX_TRUE_PEAK_DBTP.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from nodes.common import contract as C
from nodes.common.programme import ProgrammeFile
from nodes.common.runtime import Runner, json_from
from nodes.common.settings import config_from_env
from nodes.common.types import Timeline
from nodes.output.core import OutputSettings, write_outputs


def main() -> None:
    runner = Runner(C.OUTPUT)
    with runner.failing_loudly():
        settings = config_from_env(OutputSettings, os.environ)
        documents: dict[str, dict] = {}
        for event in runner.events((C.TIMELINE, C.SCENE, C.MIX)):
            documents[event["id"]] = json_from(event)
            if len(documents) == 3:
                break
        document, scene, mix = documents[C.TIMELINE], documents[C.SCENE], documents[C.MIX]
        timeline, master = Timeline.from_dict(document["timeline"]), ProgrammeFile.from_facts(mix)
        runner.progress(0, 1, "encoding")
        try:
            written = write_outputs(
                Path(os.environ[C.ENV_OUTPUT]), master, timeline.sample_rate, timeline, title=timeline.title,
                max_true_peak_dbtp=settings.max_true_peak_dbtp, bitrate_kbps=settings.mp3_bitrate_kbps,
                extra_report={"engine": "dora", "seed": document["seed"], "lufs": mix["lufs"],
                              "true_peak_dbtp": mix["true_peak_dbtp"], "warnings": [*document["warnings"], *scene["warnings"]],
                              "tts": document["tts"], "ambience": scene["ambience"]},
            )
        finally:
            master.path.unlink(missing_ok=True)
        report = {**asdict(written), "files": {k: str(v) for k, v in asdict(written.files).items()}}
        (runner.context.task_dir / "output.json").write_text(json.dumps(report, ensure_ascii=False, default=str))
        runner.progress(1, 1, f"wrote {written.files.mp3.name}")


if __name__ == "__main__":
    main()
