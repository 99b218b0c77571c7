import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { isSignedIn, onUnauthorized } from "../api/client";
import { ensureSession, forget } from "../lib/session";

declare module "vue-router" {
  interface RouteMeta {
    public?: boolean;
  }
}

const routes: RouteRecordRaw[] = [
  { path: "/", redirect: "/scripts" },
  { path: "/signin", name: "signin", component: () => import("../views/SignInView.vue"), meta: { public: true } },
  { path: "/scripts", name: "scripts", component: () => import("../views/ScriptsView.vue") },
  { path: "/scripts/new", name: "script-new", component: () => import("../views/ScriptView.vue") },
  { path: "/scripts/:id", name: "script", component: () => import("../views/ScriptView.vue"), props: true },
  { path: "/tasks/:id", name: "task", component: () => import("../views/TaskView.vue"), props: true },
  { path: "/write", name: "write", component: () => import("../views/WriterView.vue") },
  { path: "/write/:id", name: "conversation", component: () => import("../views/WriterView.vue"), props: true },
  { path: "/adapt", name: "adapt", component: () => import("../views/AdaptView.vue") },
  { path: "/credits", name: "credits", component: () => import("../views/CreditsView.vue") },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("../views/NotFoundView.vue") },
];

export const router = createRouter({ history: createWebHistory("/"), routes });

router.beforeEach(async (to) => {
  await ensureSession();
  const signedIn = isSignedIn();
  if (to.name === "signin") return signedIn ? { name: "scripts" } : true;
  if (to.meta.public) return true;
  return signedIn ? true : { name: "signin" };
});

// a 401 that a refresh could not fix: the session is over
onUnauthorized(() => {
  forget();
  if (router.currentRoute.value.name !== "signin") void router.push({ name: "signin" });
});
