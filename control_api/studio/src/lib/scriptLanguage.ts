// Highlighting of dramaflow's script format: a pure line tokenizer (tested on its own) and a
// CodeMirror StreamLanguage built on it.
import { HighlightStyle, StreamLanguage, syntaxHighlighting, type StreamParser } from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { tags } from "@lezer/highlight";

export type TokenType =
  | "frontmatter" // the --- … --- block
  | "frontmatterKey" // a key in it
  | "heading" // # Chapter
  | "speaker" // **Name:**, **Name**:, 【Name】, Name:
  | "emotion" // (whisper) right after the name
  | "cueKind" // [ambience: … ] brackets and kind
  | "cue" // the cue's text, or an inline [pause: n]
  | "param" // | key=value
  | "comment"; // <!-- … -->

export interface Token {
  from: number;
  to: number;
  type: TokenType;
}

export interface LineState {
  /** lines seen so far */
  lineNo: number;
  frontMatter: "none" | "inside" | "done";
  comment: boolean;
}

export const initialState = (): LineState => ({ lineNo: 0, frontMatter: "none", comment: false });

const EMOTION = String.raw`(\s*[(（][^)）\n]*[)）])?`;
const NAME = String.raw`[^\s:：*【】\[\]#>(（][^:：*【】\[\]()（）]{0,39}?`;
/** Each form: a regex whose groups, in order, cover the whole tag; and the token type of each group. */
const SPEAKER_FORMS: { re: RegExp; types: TokenType[]; bare?: boolean }[] = [
  { re: new RegExp(String.raw`^(\*\*【)([^】]+)(】\*\*)` + EMOTION), types: ["speaker", "speaker", "speaker", "emotion"] },
  { re: new RegExp(String.raw`^(【)([^】]+)(】)` + EMOTION), types: ["speaker", "speaker", "speaker", "emotion"] },
  { re: new RegExp(String.raw`^(\*\*)(${NAME})` + EMOTION + String.raw`(\s*[:：]\s*\*\*)`), types: ["speaker", "speaker", "emotion", "speaker"] },
  { re: new RegExp(String.raw`^(\*\*)(${NAME})` + EMOTION + String.raw`(\s*\*\*\s*[:：])`), types: ["speaker", "speaker", "emotion", "speaker"] },
  { re: new RegExp(String.raw`^(${NAME})` + EMOTION + String.raw`(\s*[:：])`), types: ["speaker", "emotion", "speaker"], bare: true },
];
const HEADING = /^ {0,3}#{1,6}(\s|$)/;
const CUE_LINE = /^(\s*\[\s*[A-Za-z_]+\s*[:：])(.*?)(\]\s*)$/;
const INLINE_CUE = /\[\s*(pause|sfx|ambience)\s*[:：][^\]]*\]/gi;
const PARAM_TAIL = /(\s\|\s*[a-z_]+\s*=\s*[^|\s][^|]*?)+\s*$/;
const PARAM = /\|\s*[a-z_]+\s*=\s*[^|\s][^|]*?(?=\s*(\||$))/g;

function push(tokens: Token[], from: number, to: number, type: TokenType): void {
  if (to <= from) return;
  const last = tokens[tokens.length - 1];
  if (last && last.type === type && last.to === from) last.to = to;
  else tokens.push({ from, to, type });
}

/** Inline: [pause: n] cues and a trailing run of ` | key=value` parameters. */
function inline(text: string, offset: number, tokens: Token[], params = true): void {
  let end = text.length;
  const tail = params ? PARAM_TAIL.exec(text) : null;
  if (tail) end = tail.index;
  const body = text.slice(0, end);
  for (const m of body.matchAll(INLINE_CUE)) push(tokens, offset + m.index, offset + m.index + m[0].length, "cue");
  if (tail) {
    for (const m of text.slice(end).matchAll(PARAM)) {
      push(tokens, offset + end + m.index, offset + end + m.index + m[0].length, "param");
    }
  }
}

function speakerTag(text: string, offset: number, tokens: Token[]): number {
  for (const form of SPEAKER_FORMS) {
    const m = form.re.exec(text);
    if (!m) continue;
    if (form.bare) {
      const name = m[1].trim();
      if (name.split(/\s+/).length > 4 || /[,.!?;，。！？；"“”]/.test(name)) continue; // prose, not a name
    }
    let pos = 0;
    form.types.forEach((type, i) => {
      const part = m[i + 1] ?? "";
      push(tokens, offset + pos, offset + pos + part.length, type);
      pos += part.length;
    });
    return pos;
  }
  return 0;
}

/** A line's own structure: heading, whole-line cue, speaker tag, then inline parts. */
function structure(text: string, offset: number, tokens: Token[]): void {
  if (HEADING.test(text)) return push(tokens, offset, offset + text.length, "heading");
  const cue = CUE_LINE.exec(text);
  if (cue) {
    push(tokens, offset, offset + cue[1].length, "cueKind");
    const bodyAt = offset + cue[1].length;
    const body = cue[2];
    const tail = PARAM_TAIL.exec(body);
    const textEnd = tail ? tail.index : body.length;
    push(tokens, bodyAt, bodyAt + textEnd, "cue");
    if (tail) inline(body.slice(textEnd), bodyAt + textEnd, tokens);
    push(tokens, bodyAt + body.length, offset + text.length, "cueKind");
    return;
  }
  const tagEnd = speakerTag(text, offset, tokens);
  inline(text.slice(tagEnd), offset + tagEnd, tokens);
}

/** Tokens of one line (positions within the line); updates `state` for the next line. */
export function tokenizeLine(line: string, state: LineState): Token[] {
  const tokens: Token[] = [];
  const first = state.lineNo === 0;
  state.lineNo++;
  if (first && /^---\s*$/.test(line)) {
    state.frontMatter = "inside";
    return [{ from: 0, to: line.length, type: "frontmatter" }];
  }
  if (state.frontMatter === "inside") {
    if (/^(---|\.\.\.)\s*$/.test(line)) state.frontMatter = "done";
    const key = /^(\s*[^\s:#][^:#]*:)(?=\s|$)/.exec(line);
    if (key && state.frontMatter === "inside") push(tokens, 0, key[1].length, "frontmatterKey");
    push(tokens, key && state.frontMatter === "inside" ? key[1].length : 0, line.length, "frontmatter");
    return tokens;
  }
  // HTML comments, possibly spanning lines; the rest of the line is split into text runs
  const runs: [number, number][] = [];
  let pos = 0;
  if (state.comment) {
    const end = line.indexOf("-->");
    if (end < 0) return line ? [{ from: 0, to: line.length, type: "comment" }] : [];
    push(tokens, 0, end + 3, "comment");
    state.comment = false;
    pos = end + 3;
  }
  while (pos <= line.length) {
    const open = line.indexOf("<!--", pos);
    if (open < 0) {
      runs.push([pos, line.length]);
      break;
    }
    runs.push([pos, open]);
    const close = line.indexOf("-->", open + 4);
    if (close < 0) {
      push(tokens, open, line.length, "comment");
      state.comment = true;
      break;
    }
    push(tokens, open, close + 3, "comment");
    pos = close + 3;
  }
  const out: Token[] = [];
  runs.forEach(([from, to], i) => {
    const text = line.slice(from, to);
    const own: Token[] = [];
    if (i === 0 && from === 0) structure(text, from, own);
    else inline(text, from, own, i === runs.length - 1);
    out.push(...own);
  });
  return [...out, ...tokens].sort((a, b) => a.from - b.from);
}

/** Tokens of every line of a script. */
export function tokenizeScript(text: string): Token[][] {
  const state = initialState();
  return text.split(/\r\n|\r|\n/).map((line) => tokenizeLine(line, state));
}

// ---- CodeMirror ----

interface StreamState {
  line: LineState;
  tokens: Token[];
}

const parser: StreamParser<StreamState> = {
  name: "dramaflow",
  startState: () => ({ line: initialState(), tokens: [] }),
  copyState: (s) => ({ line: { ...s.line }, tokens: s.tokens.slice() }),
  blankLine: (s) => {
    tokenizeLine("", s.line);
    s.tokens = [];
  },
  token(stream, s) {
    if (stream.sol()) s.tokens = tokenizeLine(stream.string, s.line);
    const pos = stream.pos;
    const next = s.tokens.find((t) => t.to > pos);
    if (!next) {
      stream.skipToEnd();
      return null;
    }
    if (next.from > pos) {
      stream.pos = next.from;
      return null;
    }
    stream.pos = next.to;
    return next.type;
  },
  tokenTable: {
    frontmatter: tags.meta,
    frontmatterKey: tags.propertyName,
    heading: tags.heading,
    speaker: tags.labelName,
    emotion: tags.modifier,
    cueKind: tags.keyword,
    cue: tags.string,
    param: tags.attributeName,
    comment: tags.comment,
  },
};

const style = HighlightStyle.define([
  { tag: tags.meta, color: "#6b6f76" },
  { tag: tags.propertyName, color: "#7a4fb0" },
  { tag: tags.heading, color: "#1f4e8c", fontWeight: "700" },
  { tag: tags.labelName, color: "#0b6e4f", fontWeight: "700" },
  { tag: tags.modifier, color: "#b0580b", fontStyle: "italic" },
  { tag: tags.keyword, color: "#9c2b6b", fontWeight: "600" },
  { tag: tags.string, color: "#9c2b6b" },
  { tag: tags.attributeName, color: "#4b6b00" },
  { tag: tags.comment, color: "#8a8f98", fontStyle: "italic" },
]);

export function scriptLanguage(): Extension {
  return [StreamLanguage.define(parser), syntaxHighlighting(style)];
}
