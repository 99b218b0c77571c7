// The voice catalogue (GET /voices), fetched once per page load.
import { ref } from "vue";
import { listVoices } from "../api/client";
import type { Voice } from "../api/types";

const voices = ref<Voice[]>([]);
const error = ref("");
let loading: Promise<void> | null = null;

export function useVoices() {
  if (!loading) {
    loading = listVoices()
      .then((list) => {
        voices.value = list;
        error.value = "";
      })
      .catch((e: unknown) => {
        error.value = e instanceof Error ? e.message : String(e);
        loading = null; // try again next time
      });
  }
  return { voices, error };
}
