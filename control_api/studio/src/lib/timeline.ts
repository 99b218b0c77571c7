// timeline.json (written by the output stage) → the lanes drawn under the waveform.

export interface TimelineUtterance {
  index: number;
  speaker: string;
  voice?: string | null;
  text: string;
  line?: number | null;
  start_s: number;
  end_s: number;
  segments?: unknown[];
}

export interface TimelineCue {
  index: number;
  kind: "ambience" | "ambience_stop" | "sfx" | "pause" | string;
  prompt?: string | null;
  line?: number | null;
  start_s: number;
  end_s: number;
  params?: Record<string, unknown>;
}

export interface TimelineChapter {
  index: number;
  title: string;
  start_s: number;
  end_s: number;
}

export interface Timeline {
  duration_s: number;
  sample_rate?: number;
  title?: string;
  utterances: TimelineUtterance[];
  cues: TimelineCue[];
  chapters: TimelineChapter[];
  speech_regions?: unknown;
  report?: unknown;
}

export type LaneKind = "speaker" | "ambience" | "sfx" | "chapters";

export interface LaneBlock {
  key: string;
  start_s: number;
  end_s: number;
  /** percentages of the whole duration */
  left: number;
  width: number;
  label: string;
  title: string;
}

export interface Lane {
  key: string;
  kind: LaneKind;
  /** the speaker's name; empty for the fixed lanes (their names are translated by the view) */
  name: string;
  blocks: LaneBlock[];
}

const round = (value: number) => Math.round(value * 1000) / 1000;

export function formatClock(seconds: number): string {
  const total = Math.max(0, seconds);
  const m = Math.floor(total / 60);
  const s = total - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

function block(key: string, start: number, end: number, duration: number, label: string): LaneBlock {
  const safe = duration > 0 ? duration : 1;
  const from = Math.min(Math.max(start, 0), safe);
  const to = Math.min(Math.max(end, from), safe);
  return {
    key,
    start_s: start,
    end_s: end,
    left: round((from / safe) * 100),
    width: round(((to - from) / safe) * 100),
    label,
    title: `${label} (${formatClock(start)}–${formatClock(end)})`,
  };
}

/** One lane per speaker (in order of first appearance), then Ambience, SFX and Chapters. */
export function buildLanes(timeline: Timeline): Lane[] {
  const duration = timeline.duration_s;
  const speakers = new Map<string, Lane>();
  for (const u of timeline.utterances ?? []) {
    let lane = speakers.get(u.speaker);
    if (!lane) {
      lane = { key: `speaker:${u.speaker}`, kind: "speaker", name: u.speaker, blocks: [] };
      speakers.set(u.speaker, lane);
    }
    lane.blocks.push(block(`u${u.index}`, u.start_s, u.end_s, duration, `${u.speaker}: ${u.text}`));
  }
  const cues = (kind: string) =>
    (timeline.cues ?? [])
      .filter((c) => c.kind === kind)
      .map((c) => block(`c${c.index}`, c.start_s, c.end_s, duration, c.prompt || kind));
  return [
    ...speakers.values(),
    { key: "ambience", kind: "ambience", name: "", blocks: cues("ambience") },
    { key: "sfx", kind: "sfx", name: "", blocks: cues("sfx") },
    {
      key: "chapters",
      kind: "chapters",
      name: "",
      blocks: (timeline.chapters ?? []).map((c) => block(`ch${c.index}`, c.start_s, c.end_s, duration, c.title)),
    },
  ];
}

/** Compressed audio seeks to a frame boundary, a little before the time asked for. */
export const SEEK_SLACK_S = 0.25;

/** The utterance playing at `time` (or starting within SEEK_SLACK_S of it), if any. */
export function utteranceAt(timeline: Timeline, time: number): TimelineUtterance | null {
  let upcoming: TimelineUtterance | null = null;
  for (const u of timeline.utterances ?? []) {
    if (time >= u.start_s && time < u.end_s) return u;
    if (!upcoming && u.start_s > time && u.start_s - time <= SEEK_SLACK_S) upcoming = u;
  }
  return upcoming;
}

export function percentOf(time: number, duration: number): number {
  if (!(duration > 0)) return 0;
  return round(Math.min(Math.max(time / duration, 0), 1) * 100);
}
