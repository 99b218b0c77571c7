// Named aliases of the generated OpenAPI types (src/api/schema.d.ts, from `npm run schema`).
import type { components } from "./schema";

type S = components["schemas"];

export type Token = S["Token"];
export type User = S["UserPublic"];
export type UserRegister = S["UserRegister"];
export type Credits = S["CreditsPublic"];
export type TransactionList = S["TransactionList"];
export type Transaction = S["TransactionPublic"];
export type Script = S["ScriptPublic"];
export type ScriptList = S["ScriptList"];
export type ScriptCreate = S["ScriptCreate"];
export type Voice = S["VoicePublic"];
export type TemplateSummary = S["TemplatePublic"];
export type TaskCreate = S["TaskCreate"];
export type TaskEstimate = S["TaskEstimate"];
export type TaskAccepted = S["TaskAccepted"];
export type TaskDetail = S["TaskDetail"];
export type TaskPublic = S["TaskPublic"];
export type TaskList = S["TaskList"];
export type TaskLinks = S["TaskLinks"];
export type TaskStatus = TaskDetail["status"];
export type StageCounts = S["StageProgress"];

export type ConversationCreate = S["ConversationCreate"];
export type ConversationDetail = S["ConversationDetail"];
export type ConversationList = S["ConversationList"];
export type ConversationPublic = S["ConversationPublic"];
export type ConversationStyle = ConversationCreate["style"];
export type SpeakerBrief = S["SpeakerBrief"];
export type Draft = S["DraftPublic"];
export type AdaptationCreate = S["AdaptationCreate"];
export type Adaptation = S["Adaptation"];

export type VoiceConfig = NonNullable<TaskCreate["voice_config"]>;

export type ScriptCheck = S["ScriptCheck"];
export type ScriptCheckRequest = S["ScriptCheckRequest"];
export type ScriptCheckProblem = S["ScriptProblem"];
export type ScriptCheckSpeaker = S["SpeakerSummary"];
export type TemplateDetail = S["TemplateDetail"];
export type TemplateSetting = S["TemplateSetting"];
export type SettingKind = TemplateSetting["kind"];
export type SettingValue = TemplateSetting["default"];

/** application/problem+json */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  line?: number | null;
  hint?: string | null;
  errors?: unknown[];
}

export const FINAL_STATUSES: readonly TaskStatus[] = ["completed", "failed", "cancelled"];
export const STAGES = ["segmenter", "tts", "ambience", "effects", "mixer", "output"] as const;
export type StageName = (typeof STAGES)[number];
