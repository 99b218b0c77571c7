import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import ProblemsList from "../script/ProblemsList.vue";
import { withI18n } from "./helpers";

describe("ProblemsList", () => {
  it("reads 'Line n: message' with the fix, errors in Problems and warnings apart", () => {
    const w = mount(ProblemsList, {
      props: {
        errors: [{ line: 7, message: "unknown speaker 'Zed'", hint: "add 'Zed: <voice-id>' under 'voices:'" }],
        warnings: [{ line: 3, message: "voice en-x falls back to en-y", hint: null }],
      },
      ...withI18n(),
    });
    const problems = w.find('[role="list"][aria-label="Problems"]');
    expect(problems.findAll("li")).toHaveLength(1);
    expect(problems.text()).toContain("Line 7: unknown speaker 'Zed'");
    expect(problems.text()).toContain("Fix: add 'Zed: <voice-id>' under 'voices:'");
    expect(w.find('[role="list"][aria-label="Warnings"]').text()).toContain("Line 3: voice en-x falls back to en-y");
  });

  it("has an empty Problems list when the script is clean", () => {
    const w = mount(ProblemsList, { props: { errors: [], warnings: [] }, ...withI18n() });
    expect(w.find('[aria-label="Problems"]').findAll("li")).toHaveLength(0);
    expect(w.text()).toContain("No problems found.");
  });
});
