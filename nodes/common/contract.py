"""The data contract on every dora message, in one place.

Every message carries ``task_id``. Streams of items carry ``seq`` (dense from 0) and end with an
in-band end-of-stream message (``eos: true``, ``n_total``: how many items came before it); a consumer
assembles by ``seq`` and is complete when it holds ``n_total`` items. Audio is a flat float32 array with
``channels`` and ``sample_rate``; JSON documents are a one-element string array.
"""

from __future__ import annotations

TASK_ID = "task_id"
SEQ = "seq"
EOS = "eos"
N_TOTAL = "n_total"
COUNT = "count"  # on items: how many the stream will hold, for progress before its EOS arrives
SPEAKER = "speaker"
SAMPLE_RATE = "sample_rate"
CHANNELS = "channels"
UTTERANCE = "utterance"
EFFECT = "effect"
PAN = "pan"
DURATION_S = "duration_s"
BACKEND = "backend"
KIND = "kind"
SEED = "seed"

# Node ids (one string per node across folder, console script and dataflow id).
SEGMENTER, TTS, EFFECTS, AMBIENCE, MIXER, OUTPUT = "segmenter", "tts", "effects", "ambience", "mixer", "output"
STAGES: tuple[str, ...] = (SEGMENTER, TTS, EFFECTS, AMBIENCE, MIXER, OUTPUT)  # in dataflow order
# the template settings groups a task may override (options.settings.<group>.<key>)
SETTING_GROUPS: tuple[str, ...] = ("segmenter", "tts", "ambience", "layout", "mix", "output")
NODES: tuple[str, ...] = (SEGMENTER, TTS, EFFECTS, AMBIENCE, MIXER, OUTPUT)

# Outputs per node.
PLAN, REQUESTS = "plan", "requests"  # segmenter
SPEECH, DURATIONS = "speech", "durations"  # tts
DIALOGUE = "dialogue"  # effects
TIMELINE, CUES, SCENE = "timeline", "cues", "scene"  # ambience
MIX = "mix"  # mixer
DONE = "done"  # output: never sent; its closing ends every upstream node

MIX_CHUNK_S = 10.0  # long clips travel in chunks of this length
MAX_MESSAGE_BYTES = 64 * 2**20  # dora refuses a larger message on a daemon (backpressure) edge

# Exit code of a node whose upstream closed before the end of its stream: a consequence, not a cause.
UPSTREAM_CLOSED_EXIT = 3

# Environment every node reads in main().
ENV_TASK_ID = "DRAMAFLOW_TASK_ID"
ENV_TASK_DIR = "DRAMAFLOW_TASK_DIR"  # progress.jsonl, errors/, pids/ go here
ENV_SCRIPT = "DRAMAFLOW_SCRIPT"
ENV_VOICE_CONFIG = "DRAMAFLOW_VOICE_CONFIG"  # path to a JSON file: user text never goes into YAML env
ENV_VOICES = "DRAMAFLOW_VOICES"
ENV_OUTPUT = "DRAMAFLOW_OUTPUT"
