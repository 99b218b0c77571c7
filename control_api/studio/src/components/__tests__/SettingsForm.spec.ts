import { describe, expect, it } from "vitest";
import { flushPromises, mount } from "@vue/test-utils";
import SettingsForm from "../SettingsForm.vue";
import type { TemplateSetting } from "../../api/types";
import { withI18n } from "./helpers";

const settings: TemplateSetting[] = [
  { group: "mix", key: "target_lufs", default: -16, kind: "number", minimum: -40, maximum: -5, choices: null },
  { group: "output", key: "mp3_bitrate_kbps", default: 256, kind: "choice", minimum: null, maximum: null, choices: [128, 256, 320] },
  { group: "segmenter", key: "pack", default: true, kind: "boolean", minimum: null, maximum: null, choices: null },
];

async function setNumber(w: ReturnType<typeof mount>, label: string, value: string) {
  const input = w.find(`input[aria-label="${label}"]`);
  (input.element as HTMLInputElement).value = value;
  await input.trigger("input");
  await input.trigger("change");
  await flushPromises();
}

describe("SettingsForm", () => {
  it("renders one field per setting, named {group}.{key}", () => {
    const w = mount(SettingsForm, { props: { settings }, ...withI18n() });
    expect(w.find('input[aria-label="mix.target_lufs"]').exists()).toBe(true);
    expect(w.find('[aria-label="output.mp3_bitrate_kbps"]').exists()).toBe(true);
    const pack = w.find('input[aria-label="segmenter.pack"]');
    expect(pack.exists()).toBe(true);
    expect(pack.attributes("role")).toBe("switch");
    expect(w.findAll("legend").map((l) => l.text())).toEqual(["mix", "output", "segmenter"]);
  });

  it("emits {} at first: nothing changed from the defaults", () => {
    const w = mount(SettingsForm, { props: { settings }, ...withI18n() });
    expect(w.emitted("change")).toEqual([[{}]]);
    expect(w.emitted("valid")).toEqual([[true]]);
  });

  it("emits only the changed setting after a change", async () => {
    const w = mount(SettingsForm, { props: { settings }, ...withI18n() });
    await setNumber(w, "mix.target_lufs", "-14");
    expect(w.emitted("change")?.at(-1)).toEqual([{ mix: { target_lufs: -14 } }]);
    await w.find('input[aria-label="segmenter.pack"]').trigger("click");
    await flushPromises();
    expect(w.emitted("change")?.at(-1)).toEqual([{ mix: { target_lufs: -14 }, segmenter: { pack: false } }]);
  });

  it("shows a range error for a value out of range and does not emit it", async () => {
    const w = mount(SettingsForm, { props: { settings }, ...withI18n() });
    await setNumber(w, "mix.target_lufs", "-50");
    const error = w.find('[data-setting="mix.target_lufs"] [role="alert"]');
    expect(error.exists()).toBe(true);
    expect(error.text()).toBe("Must be between -40 and -5");
    expect(w.emitted("change")).toEqual([[{}]]);
    expect(w.emitted("valid")?.at(-1)).toEqual([false]);
    await setNumber(w, "mix.target_lufs", "-20");
    expect(w.find('[data-setting="mix.target_lufs"] [role="alert"]').exists()).toBe(false);
    expect(w.emitted("change")?.at(-1)).toEqual([{ mix: { target_lufs: -20 } }]);
  });
});
