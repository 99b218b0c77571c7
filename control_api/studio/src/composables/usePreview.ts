// Voice previews: the WAV needs the Authorization header, so it is fetched as a blob and played
// through an object URL. One preview plays at a time.
import { onBeforeUnmount, ref } from "vue";
import { fetchBlob } from "../api/client";

export function usePreview() {
  const playing = ref<string | null>(null);
  let audio: HTMLAudioElement | null = null;
  let url: string | null = null;

  function stop() {
    audio?.pause();
    audio = null;
    if (url) URL.revokeObjectURL(url);
    url = null;
    playing.value = null;
  }

  async function play(key: string, previewUrl: string): Promise<void> {
    stop();
    playing.value = key;
    try {
      const blob = await fetchBlob(previewUrl);
      if (playing.value !== key) return;
      url = URL.createObjectURL(blob);
      audio = new Audio(url);
      audio.addEventListener("ended", stop);
      await audio.play();
    } catch (e) {
      stop();
      throw e;
    }
  }

  onBeforeUnmount(stop);
  return { playing, play, stop };
}
