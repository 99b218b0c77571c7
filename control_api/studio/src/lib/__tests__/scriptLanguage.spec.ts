import { describe, expect, it } from "vitest";
import { initialState, tokenizeLine, tokenizeScript, type Token } from "../scriptLanguage";

const text = (line: string, tokens: Token[]) => tokens.map((t) => [t.type, line.slice(t.from, t.to)]);
const one = (line: string) => text(line, tokenizeLine(line, { ...initialState(), lineNo: 5 }));

describe("script tokenizer", () => {
  it("marks the speaker tag forms", () => {
    expect(one("**Narrator:** On Gannet Rock")[0]).toEqual(["speaker", "**Narrator:**"]);
    expect(one("**Silas**: Who on earth")[0]).toEqual(["speaker", "**Silas**:"]);
    expect(one("【大牛】你好")[0]).toEqual(["speaker", "【大牛】"]);
    expect(one("Wren: Mister Rook?")[0]).toEqual(["speaker", "Wren:"]);
  });

  it("marks an emotion right after the name", () => {
    expect(one("Wren (fearful): The motor's gone")).toEqual([
      ["speaker", "Wren"],
      ["emotion", " (fearful)"],
      ["speaker", ":"],
    ]);
    expect(one("**Silas (whisper):** Quiet.").map((t) => t[0])).toEqual(["speaker", "emotion", "speaker"]);
  });

  it("does not take prose for a speaker", () => {
    expect(one("Then, between two gusts: came a sound")).toEqual([]);
  });

  it("marks cue lines, their parameters and inline pauses", () => {
    expect(one("[ambience: heavy rain | gain_db=-4 | fade_s=3]")).toEqual([
      ["cueKind", "[ambience:"],
      ["cue", " heavy rain"],
      ["param", "| gain_db=-4"],
      ["param", "| fade_s=3"],
      ["cueKind", "]"],
    ]);
    expect(one("[pause: 1.5]")).toEqual([["cueKind", "[pause:"], ["cue", " 1.5"], ["cueKind", "]"]]);
    expect(one("Silas: Wait. [pause: 1] Now.")).toEqual([["speaker", "Silas:"], ["cue", "[pause: 1]"]]);
  });

  it("marks line parameters after the text", () => {
    expect(one("Coastguard: Over. | effect=radio | gain_db=-2")).toEqual([
      ["speaker", "Coastguard:"],
      ["param", "| effect=radio"],
      ["param", "| gain_db=-2"],
    ]);
  });

  it("marks headings, front matter and comments across lines", () => {
    const script = "---\ntitle: The Lighthouse\n---\n\n<!-- a note\nstill a note -->\n## Chapter One";
    const lines = script.split("\n");
    const tokens = tokenizeScript(script);
    expect(text(lines[0], tokens[0])).toEqual([["frontmatter", "---"]]);
    expect(text(lines[1], tokens[1])).toEqual([["frontmatterKey", "title:"], ["frontmatter", " The Lighthouse"]]);
    expect(text(lines[2], tokens[2])).toEqual([["frontmatter", "---"]]);
    expect(text(lines[4], tokens[4])).toEqual([["comment", "<!-- a note"]]);
    expect(text(lines[5], tokens[5])).toEqual([["comment", "still a note -->"]]);
    expect(text(lines[6], tokens[6])).toEqual([["heading", "## Chapter One"]]);
  });

  it("only opens front matter on the first line", () => {
    const tokens = tokenizeScript("Hello\n---\ntitle: x");
    expect(tokens[2]).toEqual([{ from: 0, to: 6, type: "speaker" }]);
  });
});
