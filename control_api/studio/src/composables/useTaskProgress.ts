// A task and its live progress: GET /tasks/{id}, then its Server-Sent Events until the final status
// (with a slow poll as a safety net while the stream is down).
import { onBeforeUnmount, ref, watch, type Ref } from "vue";
import * as api from "../api/client";
import type { StageCounts, TaskDetail, TaskStatus } from "../api/types";
import type { SseEvent } from "../lib/sse";
import { isFinal } from "../lib/status";
import { refreshCredits } from "../lib/session";

interface StatusData {
  status_value?: TaskStatus;
  error?: string | null;
  duration_s?: number | null;
  warnings?: string[];
}
interface StageData {
  stage?: string;
  done?: number;
  total?: number;
  message?: string;
  status?: { stages?: Record<string, StageCounts>; progress?: number; eta_s?: number | null; stage?: string };
}

const POLL_MS = 10_000;

export function useTaskProgress(id: Ref<string>) {
  const task = ref<TaskDetail | null>(null);
  const notFound = ref(false);
  const error = ref("");
  const message = ref("");
  const warnings = ref<string[]>([]);
  let controller: AbortController | null = null;
  let poll: ReturnType<typeof setInterval> | null = null;

  function stop() {
    controller?.abort();
    controller = null;
    if (poll) clearInterval(poll);
    poll = null;
  }

  async function fetchTask(taskId: string): Promise<void> {
    try {
      const detail = await api.getTask(taskId);
      if (taskId !== id.value) return;
      const wasLive = task.value !== null && !isFinal(task.value.status);
      task.value = detail;
      if (isFinal(detail.status)) {
        stop();
        if (wasLive) void refreshCredits();
      }
    } catch (e) {
      if (e instanceof api.ApiError && (e.status === 404 || e.status === 422)) {
        notFound.value = true;
        stop();
      } else error.value = api.errorMessage(e);
    }
  }

  function apply(event: SseEvent) {
    if (!task.value) return;
    let data: StatusData & StageData;
    try {
      data = JSON.parse(event.data) as StatusData & StageData;
    } catch {
      return;
    }
    const t = task.value;
    if (event.event === "status" && data.status_value) {
      t.status = data.status_value;
      if (data.error) t.error = data.error;
      if (data.duration_s !== undefined) t.duration_s = data.duration_s;
      if (data.warnings?.length) warnings.value = data.warnings;
    } else if (event.event === "stage" || event.event === "progress") {
      if (data.stage) t.stage = data.stage;
      if (data.message) message.value = data.message;
      const status = data.status;
      if (status?.stages) t.stages = status.stages;
      else if (data.stage && data.total !== undefined) {
        t.stages = { ...t.stages, [data.stage]: { done: data.done ?? 0, total: data.total, retries: t.stages[data.stage]?.retries ?? 0 } };
      }
      if (typeof status?.progress === "number") t.progress = status.progress;
      if (status && "eta_s" in status) t.eta_s = status.eta_s ?? null;
      if (t.status === "queued") t.status = "running";
    }
  }

  const finalEvent = (event: SseEvent) => {
    if (event.event !== "status") return false;
    try {
      return isFinal((JSON.parse(event.data) as StatusData).status_value);
    } catch {
      return false;
    }
  };

  async function follow(taskId: string) {
    if (!task.value || isFinal(task.value.status)) return;
    controller = new AbortController();
    const signal = controller.signal;
    poll = setInterval(() => void fetchTask(taskId), POLL_MS);
    try {
      await api.followEvents(task.value.urls.events, { onEvent: apply, isFinal: finalEvent, signal });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) notFound.value = true;
    }
    if (signal.aborted || taskId !== id.value) return;
    await fetchTask(taskId); // the final state in full (duration, error, costs)
    stop();
    void refreshCredits();
  }

  async function cancel(): Promise<void> {
    if (!task.value) return;
    task.value = await api.cancelTask(task.value.id);
  }

  watch(
    id,
    async (taskId) => {
      stop();
      task.value = null;
      notFound.value = false;
      error.value = "";
      warnings.value = [];
      await fetchTask(taskId);
      if (taskId === id.value) void follow(taskId);
    },
    { immediate: true },
  );
  onBeforeUnmount(stop);

  return { task, notFound, error, message, warnings, cancel };
}
