import { createI18n } from "vue-i18n";
import en from "./en";
import zh from "./zh";

export type Locale = "en" | "zh";
export const LOCALES: { value: Locale; label: string }[] = [
  { value: "en", label: "English" },
  { value: "zh", label: "中文" },
];
const STORAGE_KEY = "dramaflow.locale";

/** The saved choice, else the browser's language: "zh…" → Chinese, anything else → English. */
export function detectLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === "en" || saved === "zh") return saved;
  } catch {
    /* storage unavailable */
  }
  const language = typeof navigator !== "undefined" ? navigator.language || "" : "";
  return language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function createStudioI18n(locale: Locale = detectLocale()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: "en",
    messages: { en, zh },
    missingWarn: false,
    fallbackWarn: false,
  });
}

export const i18n = createStudioI18n();

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    /* storage unavailable: the choice lasts for this page */
  }
  applyDocumentLanguage(locale);
}

export function applyDocumentLanguage(locale: Locale): void {
  if (typeof document !== "undefined") document.documentElement.lang = locale === "zh" ? "zh-CN" : "en";
}
