import { describe, expect, it } from "vitest";
import { loadCast, newEntry, saveCast, toVoiceConfig } from "../cast";

describe("cast", () => {
  it("sends the chosen voice and only the adjustments changed from the defaults", () => {
    expect(
      toVoiceConfig({
        Mara: newEntry(),
        Silas: { ...newEntry(), voice: "en-joe-deep" },
        Wren: { ...newEntry(), voice: "en-joe", speed: 1.1, pan: -0.5, effect: "radio" },
        Zed: { ...newEntry(), pitch: -2 },
      }),
    ).toEqual({
      Silas: { voice: "en-joe-deep" },
      Wren: { voice: "en-joe", speed: 1.1, pan: -0.5, effect: "radio" },
      Zed: { pitch: -2 },
    });
  });

  it("is kept per script in localStorage", () => {
    saveCast("s1", { Mara: { ...newEntry(), voice: "en-a" } });
    expect(loadCast("s1")).toEqual({ Mara: { ...newEntry(), voice: "en-a" } });
    expect(loadCast("s2")).toEqual({});
    expect(loadCast(null)).toEqual({});
  });
});
