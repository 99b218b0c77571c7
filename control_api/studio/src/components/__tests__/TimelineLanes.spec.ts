import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import TimelineLanes from "../task/TimelineLanes.vue";
import type { Timeline } from "../../lib/timeline";
import { withI18n } from "./helpers";

const timeline: Timeline = {
  duration_s: 100,
  sample_rate: 48000,
  title: "Test",
  utterances: [
    { index: 0, speaker: "Narrator", voice: "en-joe", text: "Once upon a time.", line: 3, start_s: 0, end_s: 20, segments: [] },
    { index: 1, speaker: "Wren", voice: "en-joe-bright", text: "Hello there.", line: 5, start_s: 25, end_s: 35, segments: [] },
    { index: 2, speaker: "Narrator", voice: "en-joe", text: "The end.", line: 7, start_s: 60, end_s: 70, segments: [] },
  ],
  cues: [
    { index: 0, kind: "ambience", prompt: "heavy rain", line: 2, start_s: 0, end_s: 50, params: {} },
    { index: 1, kind: "sfx", prompt: "thunder clap", line: 4, start_s: 22, end_s: 24, params: {} },
    { index: 2, kind: "pause", prompt: null, line: 6, start_s: 40, end_s: 41, params: {} },
  ],
  chapters: [
    { index: 0, title: "Chapter One", start_s: 0, end_s: 50 },
    { index: 1, title: "Chapter Two", start_s: 50, end_s: 100 },
  ],
  speech_regions: [],
  report: {},
};

const lane = (w: ReturnType<typeof mount>, name: string) => w.find(`.lane[aria-label="${name}"]`);

describe("TimelineLanes", () => {
  it("renders a lane per speaker plus Ambience, SFX and Chapters", () => {
    const w = mount(TimelineLanes, { props: { timeline, currentTime: 0 }, ...withI18n() });
    const names = w.findAll(".lane").map((l) => l.attributes("aria-label"));
    expect(names).toEqual(["Narrator", "Wren", "Ambience", "SFX", "Chapters"]);
    expect(w.findAll(".lane-name").map((l) => l.text())).toEqual(names);
    expect(lane(w, "Narrator").findAll(".block")).toHaveLength(2);
    expect(lane(w, "Ambience").findAll(".block")).toHaveLength(1);
    expect(lane(w, "SFX").findAll(".block")).toHaveLength(1);
    expect(lane(w, "Chapters").findAll(".block")).toHaveLength(2);
  });

  it("positions a block by percentage of the duration, with a title", () => {
    const w = mount(TimelineLanes, { props: { timeline, currentTime: 0 }, ...withI18n() });
    const block = lane(w, "Wren").find(".block");
    const style = block.attributes("style") ?? "";
    expect(style).toContain("left: 25%");
    expect(style).toContain("width: 10%");
    expect(block.attributes("title")).toContain("Wren: Hello there.");
    expect(lane(w, "SFX").find(".block").attributes("title")).toContain("thunder clap");
    expect(lane(w, "Chapters").findAll(".block")[1].attributes("style")).toContain("left: 50%");
  });

  it("emits seek with the block's start when a block is clicked", async () => {
    const w = mount(TimelineLanes, { props: { timeline, currentTime: 0 }, ...withI18n() });
    await lane(w, "Wren").find(".block").trigger("click");
    await lane(w, "Chapters").findAll(".block")[1].trigger("click");
    expect(w.emitted("seek")).toEqual([[25], [50]]);
  });

  it("draws the playhead at the current time", () => {
    const w = mount(TimelineLanes, { props: { timeline, currentTime: 42 }, ...withI18n() });
    expect(w.find(".playhead").attributes("style")).toContain("left: 42%");
  });
});
