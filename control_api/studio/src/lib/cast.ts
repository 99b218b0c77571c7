// The cast: per speaker a voice and its adjustments, turned into the API's voice_config.
import type { VoiceConfig } from "../api/types";

export const EFFECTS = ["none", "telephone", "radio", "room", "hall"] as const;
export type Effect = (typeof EFFECTS)[number];

export interface CastEntry {
  /** a voice id; "" keeps the script's own choice */
  voice: string;
  speed: number;
  pitch: number;
  pan: number;
  effect: Effect;
}

export type Cast = Record<string, CastEntry>;

export const DEFAULT_ENTRY: Readonly<CastEntry> = Object.freeze({ voice: "", speed: 1, pitch: 0, pan: 0, effect: "none" });
export const RANGES = {
  speed: { min: 0.5, max: 2, step: 0.05 },
  pitch: { min: -12, max: 12, step: 1 },
  pan: { min: -1, max: 1, step: 0.05 },
} as const;

export const newEntry = (): CastEntry => ({ ...DEFAULT_ENTRY });

/** {speaker: {voice, speed, pitch, pan, effect}} with only what differs from the defaults. */
export function toVoiceConfig(cast: Cast): VoiceConfig {
  const config: VoiceConfig = {};
  for (const [speaker, entry] of Object.entries(cast)) {
    const out: Record<string, string | number> = {};
    if (entry.voice) out.voice = entry.voice;
    if (entry.speed !== DEFAULT_ENTRY.speed) out.speed = entry.speed;
    if (entry.pitch !== DEFAULT_ENTRY.pitch) out.pitch = entry.pitch;
    if (entry.pan !== DEFAULT_ENTRY.pan) out.pan = entry.pan;
    if (entry.effect !== DEFAULT_ENTRY.effect) out.effect = entry.effect;
    if (Object.keys(out).length) config[speaker] = out;
  }
  return config;
}

const key = (scriptId: string) => `dramaflow.cast.${scriptId}`;

export function loadCast(scriptId: string | null): Cast {
  if (!scriptId) return {};
  try {
    const raw = localStorage.getItem(key(scriptId));
    if (!raw) return {};
    const parsed = JSON.parse(raw) as Record<string, Partial<CastEntry>>;
    const cast: Cast = {};
    for (const [speaker, entry] of Object.entries(parsed)) cast[speaker] = { ...DEFAULT_ENTRY, ...entry };
    return cast;
  } catch {
    return {};
  }
}

export function saveCast(scriptId: string | null, cast: Cast): void {
  if (!scriptId) return;
  try {
    localStorage.setItem(key(scriptId), JSON.stringify(cast));
  } catch {
    /* storage full or unavailable: the cast lasts for this page */
  }
}
