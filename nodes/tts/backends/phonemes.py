"""espeak-ng phonemes through piper's bridge, shared by the backends that need IPA (piper, Kokoro).

The bridge is one library with global state (the selected voice): every caller in the process takes
``BRIDGE_LOCK`` around a voice change and its phonemization.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import cache

BRIDGE_LOCK = threading.Lock()


@cache
def _phonemizer() -> object:
    from piper.phonemize_espeak import EspeakPhonemizer

    return EspeakPhonemizer()


def espeak_phonemes(espeak_voice: str, text: str) -> list[str]:
    """IPA (with stress marks and the clause punctuation) per sentence of ``text``, NFC-composed."""
    with BRIDGE_LOCK:
        sentences = _phonemizer().phonemize(espeak_voice, text)  # type: ignore[attr-defined]
    return [unicodedata.normalize("NFC", "".join(s)).strip() for s in sentences if "".join(s).strip()]
