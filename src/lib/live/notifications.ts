import 'server-only';
// One LISTEN per channel per server process, shared by every open live-updates stream. Postgres
// notifies on task and review changes (see the migrations); each notification is fanned out to the
// subscribed browsers, which then re-read what they show through the operator's own identity.
// LISTEN runs through the app's one pool (src/lib/server/db.ts), on the dedicated connection
// postgres.js keeps for it.
//
// Postgres sends task_changed only while a listener holds a lease (taskweave_private.change_watchers):
// this process holds one while any browser is subscribed, and a little longer so a page reload finds
// it live. A subscription that had to take the lease is told to catch up: changes made before it was in
// place were not notified.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { changeWatch, type ChangeWatch } from '../../../supabase/functions/_shared/change-watch';
import { db } from '../server/db';

export const LIVE_CHANNELS = ['task_changed', 'review_changed', 'task_ready'] as const;
export type LiveChannel = (typeof LIVE_CHANNELS)[number];
export interface LiveNotification {
  channel: LiveChannel;
  payload: unknown;
}
type Subscriber = (notification: LiveNotification) => void;

export interface LiveSubscription {
  unsubscribe(): void;
  /** the task_changed lease was taken for this subscription: what the browser shows may be stale, re-read once */
  catchUp: boolean;
}

/** Lease on task_changed: renewed every 20 s, lasts 60 s, kept 10 s after the last browser leaves. */
const WATCH = { leaseSeconds: 60, renewMs: 20_000, lingerMs: 10_000 };

interface Hub {
  subscribers: Set<Subscriber>;
  ready?: Promise<void>;
  unlisten: (() => Promise<void>)[];
  watch?: ChangeWatch;
  /** this process's watcher id (one per process, kept across `next dev` module reloads) */
  watcher?: string;
}

const globalForHub = globalThis as unknown as { taskweaveLiveHub?: Hub };
const hub: Hub = (globalForHub.taskweaveLiveHub ??= { subscribers: new Set(), unlisten: [] });

function parse(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return payload; // task_ready carries a bare id
  }
}

function publish(channel: LiveChannel, payload: string) {
  const notification = { channel, payload: parse(payload) };
  for (const subscriber of hub.subscribers) {
    try {
      subscriber(notification);
    } catch {
      // a closed stream unsubscribes itself; one broken client must not starve the others
    }
  }
}

/** Start listening (once per process); resolves when LISTEN is in place, so no change is missed after. */
function ensureListening(): Promise<void> {
  if (!hub.ready) {
    const sql = db();
    hub.ready = Promise.all(LIVE_CHANNELS.map((channel) => sql.listen(channel, (payload) => publish(channel, payload)))).then(
      (listeners) => {
        hub.unlisten = listeners.map((l) => l.unlisten);
      },
      (error) => {
        hub.ready = undefined; // try again on the next subscriber
        throw error;
      },
    );
  }
  return hub.ready;
}

function watch(): ChangeWatch {
  hub.watch ??= changeWatch(db(), {
    watcher: (hub.watcher ??= `web:${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`),
    ...WATCH,
    onError: (what, error) => console.error(`[live] task_changed lease: ${what} failed:`, error),
  });
  return hub.watch;
}

/** Subscribe to every notification; resolves once LISTEN and the task_changed lease are in place. */
export async function subscribe(subscriber: Subscriber): Promise<LiveSubscription> {
  await ensureListening();
  hub.subscribers.add(subscriber);
  const lease = watch();
  let catchUp: boolean;
  try {
    catchUp = await lease.acquire();
  } catch (error) {
    hub.subscribers.delete(subscriber);
    throw error;
  }
  let subscribed = true;
  return {
    catchUp,
    unsubscribe() {
      if (!subscribed) return;
      subscribed = false;
      hub.subscribers.delete(subscriber);
      lease.release();
    },
  };
}

/** Stop listening and end the lease (tests, graceful shutdown); the next subscriber starts again. */
export async function stopListening(): Promise<void> {
  const unlisten = hub.unlisten;
  const lease = hub.watch;
  hub.ready = undefined;
  hub.unlisten = [];
  hub.watch = undefined;
  hub.subscribers.clear();
  await Promise.all([...unlisten.map((u) => u().catch(() => undefined)), lease?.stop().catch(() => undefined)]);
}
