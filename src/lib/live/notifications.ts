import 'server-only';
// One LISTEN per channel per server process, shared by every open live-updates stream. Postgres
// notifies on task and review changes (see the migrations); each notification is fanned out to the
// subscribed browsers, which then re-read what they show through the operator's own identity.
// LISTEN runs through the app's one pool (src/lib/server/db.ts), on the dedicated connection
// postgres.js keeps for it.
import { db } from '../server/db';

export const LIVE_CHANNELS = ['task_changed', 'review_changed', 'task_ready'] as const;
export type LiveChannel = (typeof LIVE_CHANNELS)[number];
export interface LiveNotification {
  channel: LiveChannel;
  payload: unknown;
}
type Subscriber = (notification: LiveNotification) => void;

interface Hub {
  subscribers: Set<Subscriber>;
  ready?: Promise<void>;
  unlisten: (() => Promise<void>)[];
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

export async function subscribe(subscriber: Subscriber): Promise<() => void> {
  await ensureListening();
  hub.subscribers.add(subscriber);
  return () => {
    hub.subscribers.delete(subscriber);
  };
}

/** Stop listening (tests, graceful shutdown); the next subscriber listens again. */
export async function stopListening(): Promise<void> {
  const unlisten = hub.unlisten;
  hub.ready = undefined;
  hub.unlisten = [];
  hub.subscribers.clear();
  await Promise.all(unlisten.map((u) => u().catch(() => undefined)));
}
