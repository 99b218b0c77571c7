import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import StageProgress from "../task/StageProgress.vue";
import { withI18n } from "./helpers";

const state = (w: ReturnType<typeof mount>) =>
  Object.fromEntries(w.findAll("[data-stage]").map((li) => [li.attributes("data-stage"), li.attributes("data-state")]));

describe("StageProgress", () => {
  it("lists the six stages, waiting, running or done, with done/total", () => {
    const w = mount(StageProgress, {
      props: { stages: { segmenter: { done: 1, total: 1, retries: 0 }, tts: { done: 2, total: 5, retries: 1 } }, stage: "tts", status: "running" },
      ...withI18n(),
    });
    expect(w.find("ol").attributes("aria-label")).toBe("Stages");
    expect(state(w)).toEqual({
      segmenter: "done", tts: "running", ambience: "waiting", effects: "waiting", mixer: "waiting", output: "waiting",
    });
    expect(w.find('[data-stage="tts"]').text()).toContain("2/5");
    expect(w.find('[data-stage="tts"]').text()).toContain("1 retries");
  });

  it("marks every stage done once the render completed", () => {
    const w = mount(StageProgress, { props: { stages: {}, stage: "output", status: "completed" }, ...withI18n() });
    expect(new Set(Object.values(state(w)))).toEqual(new Set(["done"]));
  });
});
