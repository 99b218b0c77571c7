// The space bar plays and pauses, unless focus is in a text field, a button or another control
// that uses the space bar itself.
import { onBeforeUnmount, onMounted } from "vue";

const OWN_SPACE = "input, textarea, select, button, a[href], audio, video, [contenteditable=''], [contenteditable='true'], "
  + "[role='button'], [role='textbox'], [role='combobox'], [role='slider'], [role='switch'], [role='checkbox'], [role='option'], [role='tab']";

export function spaceBelongsToTarget(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest(OWN_SPACE) !== null;
}

export function usePlaybackKeys(toggle: () => void): void {
  const onKey = (event: KeyboardEvent) => {
    if (event.code !== "Space" && event.key !== " ") return;
    if (event.repeat || event.altKey || event.ctrlKey || event.metaKey) return;
    if (spaceBelongsToTarget(event.target)) return;
    event.preventDefault();
    toggle();
  };
  onMounted(() => window.addEventListener("keydown", onKey));
  onBeforeUnmount(() => window.removeEventListener("keydown", onKey));
}
