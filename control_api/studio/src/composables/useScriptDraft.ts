// The script being edited, shared by the Write, Cast, Render and History tabs of the script page:
// its text, the live check (debounced), the cast and the chosen template and settings.
import { computed, inject, provide, ref, watch, type InjectionKey } from "vue";
import * as api from "../api/client";
import type { ScriptCheck, SettingValue, VoiceConfig } from "../api/types";
import { loadCast, newEntry, saveCast, toVoiceConfig, type Cast } from "../lib/cast";
import { debounce } from "../lib/debounce";

export type Settings = Record<string, Record<string, SettingValue>>;

export const CHECK_DEBOUNCE_MS = 400;

export function createScriptDraft() {
  const id = ref<string | null>(null);
  const title = ref("");
  const content = ref("");
  const saved = ref({ title: "", content: "" });
  const loading = ref(false);
  const notFound = ref(false);
  const saving = ref(false);

  const check = ref<ScriptCheck | null>(null);
  const checking = ref(false);
  const checkError = ref("");

  const cast = ref<Cast>({});
  const template = ref("");
  const settings = ref<Settings>({});
  const settingsValid = ref(true);

  const dirty = computed(() => id.value === null || title.value !== saved.value.title || content.value !== saved.value.content);
  const errorCount = computed(() => check.value?.errors.length ?? 0);
  /** the cast as voice_config, for the speakers the last check found */
  const voiceConfig = computed<VoiceConfig>(() => {
    const config = toVoiceConfig(cast.value);
    if (!check.value) return config;
    const names = new Set(check.value.speakers.map((s) => s.name));
    return Object.fromEntries(Object.entries(config).filter(([speaker]) => names.has(speaker)));
  });

  async function load(scriptId: string): Promise<void> {
    loading.value = true;
    notFound.value = false;
    try {
      const script = await api.getScript(scriptId);
      id.value = script.id;
      title.value = script.title;
      content.value = script.content;
      saved.value = { title: script.title, content: script.content };
      cast.value = loadCast(script.id);
    } catch (e) {
      if (e instanceof api.ApiError && (e.status === 404 || e.status === 422)) notFound.value = true;
      else throw e;
    } finally {
      loading.value = false;
    }
  }

  function reset(): void {
    id.value = null;
    title.value = "";
    content.value = "";
    saved.value = { title: "", content: "" };
    check.value = null;
    cast.value = {};
    notFound.value = false;
  }

  /** POST when new, PUT after; returns the script's id. */
  async function save(): Promise<string> {
    saving.value = true;
    try {
      const body = { title: title.value.trim() || check.value?.title || "", content: content.value };
      const script = id.value ? await api.updateScript(id.value, body) : await api.createScript(body);
      id.value = script.id;
      title.value = script.title;
      saved.value = { title: script.title, content: body.content };
      saveCast(script.id, cast.value);
      return script.id;
    } finally {
      saving.value = false;
    }
  }

  let checkSeq = 0;
  async function runCheck(): Promise<void> {
    const seq = ++checkSeq;
    if (!content.value.trim()) {
      check.value = null;
      checkError.value = "";
      return;
    }
    checking.value = true;
    try {
      const result = await api.checkScript({
        content: content.value,
        voice_config: voiceConfig.value,
        template: template.value || "podcast",
      });
      if (seq !== checkSeq) return; // a newer check is under way
      check.value = result;
      checkError.value = "";
      for (const speaker of result.speakers) {
        if (!cast.value[speaker.name]) cast.value[speaker.name] = newEntry();
      }
    } catch (e) {
      if (seq === checkSeq) checkError.value = api.errorMessage(e);
    } finally {
      if (seq === checkSeq) checking.value = false;
    }
  }
  const scheduleCheck = debounce(() => void runCheck(), CHECK_DEBOUNCE_MS);
  // compared as text, so a new check result with the same speakers does not check again
  const checkInput = computed(() => JSON.stringify([content.value, voiceConfig.value, template.value]));
  watch(checkInput, () => scheduleCheck());
  watch(cast, (value) => saveCast(id.value, value), { deep: true });

  return {
    id, title, content, saved, loading, notFound, saving, dirty,
    check, checking, checkError, errorCount,
    cast, voiceConfig, template, settings, settingsValid,
    load, reset, save, runCheck, dispose: () => scheduleCheck.cancel(),
  };
}

export type ScriptDraft = ReturnType<typeof createScriptDraft>;

const KEY: InjectionKey<ScriptDraft> = Symbol("script-draft");

export function provideScriptDraft(draft: ScriptDraft): void {
  provide(KEY, draft);
}

export function useScriptDraft(): ScriptDraft {
  const draft = inject(KEY);
  if (!draft) throw new Error("useScriptDraft() outside a script page");
  return draft;
}
