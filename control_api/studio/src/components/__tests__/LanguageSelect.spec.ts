import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import LanguageSelect from "../LanguageSelect.vue";
import { i18n, setLocale } from "../../i18n";

describe("LanguageSelect", () => {
  it("is the only element named Language (no hidden listbox sharing its label)", () => {
    setLocale("en");
    const w = mount(LanguageSelect, { global: { plugins: [i18n] }, attachTo: document.body });
    expect(document.querySelectorAll('[aria-label="Language"]')).toHaveLength(1);
    expect(document.querySelector('[aria-label="Language"]')?.getAttribute("role")).toBe("combobox");
    w.unmount();
  });

  it("keeps the choice in localStorage and sets the page language", () => {
    setLocale("zh");
    expect(localStorage.getItem("dramaflow.locale")).toBe("zh");
    expect(document.documentElement.lang).toBe("zh-CN");
    expect(i18n.global.t("auth.signIn")).toBe("登录");
    setLocale("en");
    expect(i18n.global.t("auth.signIn")).toBe("Sign in");
  });
});
