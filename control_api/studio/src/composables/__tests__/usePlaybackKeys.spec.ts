import { describe, expect, it } from "vitest";
import { spaceBelongsToTarget } from "../usePlaybackKeys";

describe("space bar", () => {
  it("plays and pauses unless focus is in a text field, a button or the editor", () => {
    document.body.innerHTML = `<input id="i"><button id="b"><span id="s">x</span></button>
      <div class="cm-content" contenteditable="true" id="e"></div><div id="d"></div><li tabindex="0" id="l"></li>`;
    const el = (id: string) => document.getElementById(id);
    expect(spaceBelongsToTarget(el("i"))).toBe(true);
    expect(spaceBelongsToTarget(el("s"))).toBe(true);
    expect(spaceBelongsToTarget(el("e"))).toBe(true);
    expect(spaceBelongsToTarget(el("d"))).toBe(false);
    expect(spaceBelongsToTarget(el("l"))).toBe(false);
    expect(spaceBelongsToTarget(document.body)).toBe(false);
  });
});
