import { describe, expect, it } from "vitest";
import en from "../en";
import zh from "../zh";
import { detectLocale } from "..";

function keys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

function values(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Object.values(value as Record<string, unknown>).flatMap(values);
}

describe("i18n messages", () => {
  it("have the same keys in English and Chinese", () => {
    expect(keys(zh).sort()).toEqual(keys(en).sort());
  });

  it("are non-empty strings without vue-i18n syntax characters other than placeholders", () => {
    for (const text of [...values(en), ...values(zh)]) {
      expect(text.length).toBeGreaterThan(0);
      expect(text).not.toMatch(/[@|]/);
      expect(text.replace(/\{[a-zA-Z]+\}/g, "")).not.toMatch(/[{}]/);
    }
  });

  it("uses 登录, 用户名 and 密码 on the Chinese sign-in page", () => {
    expect([zh.auth.signIn, zh.auth.username, zh.auth.password]).toEqual(["登录", "用户名", "密码"]);
  });

  it("follows the browser's language unless a choice was saved", () => {
    localStorage.removeItem("dramaflow.locale");
    const original = Object.getOwnPropertyDescriptor(navigator, "language");
    Object.defineProperty(navigator, "language", { value: "zh-CN", configurable: true });
    expect(detectLocale()).toBe("zh");
    Object.defineProperty(navigator, "language", { value: "en-GB", configurable: true });
    expect(detectLocale()).toBe("en");
    localStorage.setItem("dramaflow.locale", "zh");
    expect(detectLocale()).toBe("zh");
    localStorage.removeItem("dramaflow.locale");
    if (original) Object.defineProperty(navigator, "language", original);
  });
});
