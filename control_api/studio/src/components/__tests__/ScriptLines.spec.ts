import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import ScriptLines from "../writer/ScriptLines.vue";
import AdaptResult from "../writer/AdaptResult.vue";
import type { Adaptation } from "../../api/types";
import { withI18n } from "./helpers";

const SCRIPT = "---\ntitle: T\n---\n**Narrator:** One.\n<!-- restored: … -->\n**Narrator:** Two.\n";

describe("ScriptLines", () => {
  it("numbers every line and marks the ones named, with their note as text", () => {
    const w = mount(ScriptLines, {
      props: { script: SCRIPT, label: "Draft", marks: [{ line: 6, kind: "restored", note: "put back" }] },
    });
    const lines = w.findAll("li");
    expect(lines).toHaveLength(6); // the final newline is no line of its own
    expect(lines[5].attributes("data-mark")).toBe("restored");
    expect(lines[5].text()).toContain("**Narrator:** Two.");
    expect(lines[5].text()).toContain("put back");
    expect(lines.filter((l) => l.attributes("data-mark"))).toHaveLength(1);
    expect(w.find("section").attributes("aria-label")).toBe("Draft");
  });
});

describe("AdaptResult", () => {
  it("marks the restored passages and the check's errors at their lines and sums up", () => {
    const result = {
      script: SCRIPT, language: "en", mode: "llm", speakers: ["Ada"], speech_tags_removed: 0, kept_share: 0.9712,
      complete: true, missing: [], restored: [{ line: 6, text: "Two." }], fallback_chunks: [], chunks: 1,
      tokens: 900, credits_charged: 1, warnings: ["line 6: a passage the model left out, put back as narration"],
      check: { title: "T", speakers: [], counts: { lines: 2, chars: 8, words: 2, segments: 2 },
               estimated_duration_s: 1, errors: [{ line: 4, message: "bad", hint: null }], warnings: [] },
    } as unknown as Adaptation;
    const w = mount(AdaptResult, { props: { result, saving: false }, ...withI18n() });
    expect(w.find('[data-line="6"]').attributes("data-mark")).toBe("restored");
    expect(w.find('[data-line="4"]').attributes("data-mark")).toBe("error");
    const summary = w.find('[data-testid="adapt-summary"]').text();
    expect(summary).toContain("Language model");
    expect(summary).toContain("97.1 % of the text kept");
    expect(summary).toContain("1 passage(s) put back");
    expect(w.text()).toContain("put back as narration");
  });
});
