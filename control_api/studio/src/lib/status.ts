import type { TaskStatus } from "../api/types";

/** Element Plus tag type of a task status */
export function statusTag(status: TaskStatus): "info" | "primary" | "success" | "danger" | "warning" {
  switch (status) {
    case "completed":
      return "success";
    case "failed":
      return "danger";
    case "cancelled":
      return "warning";
    case "running":
      return "primary";
    default:
      return "info";
  }
}

export const isFinal = (status: string | null | undefined): boolean =>
  status === "completed" || status === "failed" || status === "cancelled";

/** "… at line 12: …" → 12 */
export function lineOf(text: string | null | undefined): number | null {
  const m = /\blines?\s+(\d+)\b|第\s*(\d+)\s*行/i.exec(text ?? "");
  return m ? Number(m[1] ?? m[2]) : null;
}
