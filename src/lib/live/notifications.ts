import 'server-only';
// One LISTEN connection per server process, shared by every open live-updates stream. Postgres
// notifies on task and review changes (see the migrations); each notification is fanned out to the
// subscribed browsers, which then re-read what they show through the operator's own identity.
import postgres from 'postgres';
import { databaseUrl } from '../db/pool';

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
  sql?: postgres.Sql;
}

const globalForHub = globalThis as unknown as { taskweaveLiveHub?: Hub };
const hub: Hub = (globalForHub.taskweaveLiveHub ??= { subscribers: new Set() });

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
    // postgres.js keeps LISTEN on a dedicated connection and re-issues it after a reconnect
    hub.sql = postgres(databaseUrl(), { max: 1, onnotice: () => {}, connect_timeout: 10, idle_timeout: 0 });
    const sql = hub.sql;
    hub.ready = Promise.all(LIVE_CHANNELS.map((channel) => sql.listen(channel, (payload) => publish(channel, payload)))).then(
      () => undefined,
      (error) => {
        hub.ready = undefined; // try again on the next subscriber
        void sql.end({ timeout: 1 });
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

/** Close the shared LISTEN connection (tests, graceful shutdown); the next subscriber opens it again. */
export async function stopListening(): Promise<void> {
  const sql = hub.sql;
  hub.ready = undefined;
  hub.sql = undefined;
  hub.subscribers.clear();
  await sql?.end({ timeout: 2 });
}
