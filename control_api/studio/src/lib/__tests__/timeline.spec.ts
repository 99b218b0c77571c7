import { describe, expect, it } from "vitest";
import { buildLanes, percentOf, utteranceAt, type Timeline } from "../timeline";

const timeline: Timeline = {
  duration_s: 50,
  utterances: [
    { index: 0, speaker: "A", text: "one", line: 2, start_s: 1, end_s: 10 },
    { index: 1, speaker: "B", text: "two", line: 3, start_s: 12.3, end_s: 20 },
  ],
  cues: [{ index: 0, kind: "ambience_stop", prompt: null, line: 4, start_s: 30, end_s: 30 }],
  chapters: [],
};

describe("timeline", () => {
  it("builds speaker lanes in order of appearance, then the fixed lanes", () => {
    expect(buildLanes(timeline).map((l) => l.key)).toEqual(["speaker:A", "speaker:B", "ambience", "sfx", "chapters"]);
    expect(buildLanes(timeline)[2].blocks).toEqual([]); // ambience_stop is no block
  });

  it("finds the utterance at a time, allowing for a seek that lands just before it", () => {
    expect(utteranceAt(timeline, 5)?.index).toBe(0);
    expect(utteranceAt(timeline, 12.2)?.index).toBe(1);
    expect(utteranceAt(timeline, 11)).toBeNull();
    expect(utteranceAt(timeline, 25)).toBeNull();
  });

  it("clamps percentages", () => {
    expect(percentOf(25, 50)).toBe(50);
    expect(percentOf(80, 50)).toBe(100);
    expect(percentOf(3, 0)).toBe(0);
  });
});
