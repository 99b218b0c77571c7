// Who is signed in, and their credits: shared by the header, the router guard and the views.
import { reactive } from "vue";
import * as api from "../api/client";
import type { Credits, User } from "../api/types";

export const session = reactive({
  user: null as User | null,
  credits: null as Credits | null,
});

let started: Promise<void> | null = null;

/** On app start: try the refresh cookie once, so a reload keeps you signed in. */
export function ensureSession(): Promise<void> {
  if (!started) {
    started = (async () => {
      if (!api.isSignedIn() && (await api.refresh())) await loadAccount().catch(() => undefined);
    })();
  }
  return started;
}

export async function loadAccount(): Promise<void> {
  const [user, credits] = await Promise.all([api.getMe(), api.getCredits()]);
  session.user = user;
  session.credits = credits;
}

export async function refreshCredits(): Promise<void> {
  try {
    session.credits = await api.getCredits();
  } catch {
    /* the header keeps the last known balance */
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  await api.login(username, password);
  started = Promise.resolve();
  await loadAccount();
}

export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } catch {
    /* signed out locally regardless */
  }
  forget();
}

/** Drop what we know of the account (signed out, or the session expired). */
export function forget(): void {
  session.user = null;
  session.credits = null;
}
