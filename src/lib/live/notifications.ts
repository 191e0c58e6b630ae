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
//
// A LISTEN that is accepted does not prove that notifications arrive: through a transaction pooler
// (Supabase's on port 6543) LISTEN succeeds and nothing is ever delivered. So the hub proves its channel
// with a ping of its own: it NOTIFYs a probe channel it also listens on and waits for the ping to come back,
// when it starts and every minute while anyone is subscribed. A ping that does not come back makes the feed
// unavailable: subscribe() throws LiveUnavailableError, live subscribers are told, and browsers poll instead.
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

/** The channel the hub pings itself on; its payloads are this process's probe ids, never shown to anyone. */
export const PROBE_CHANNEL = 'taskweave_live_probe';

/** How long a ping may take to come back, how often a live hub pings, how long a silent one stays given up. */
export const PROBE = { timeoutMs: 3_000, everyMs: 60_000, giveUpMs: 30_000 };

/** Notifications do not reach this server (a transaction pooler, say): the page must poll. */
export class LiveUnavailableError extends Error {
  constructor(message = 'a notification this server sent did not come back within a few seconds: the database connection does not deliver LISTEN ' +
    '(a transaction pooler, such as Supabase\'s on port 6543, accepts LISTEN and never delivers). Point DATABASE_URL at a direct or session-mode connection (port 5432).') {
    super(message);
    this.name = 'LiveUnavailableError';
  }
}

export interface LiveSubscription {
  unsubscribe(): void;
  /** the task_changed lease was taken for this subscription: what the browser shows may be stale, re-read once */
  catchUp: boolean;
}

/** Lease on task_changed: renewed every 20 s, lasts 60 s, kept 10 s after the last browser leaves. */
const WATCH = { leaseSeconds: 60, renewMs: 20_000, lingerMs: 10_000 };

interface Hub {
  subscribers: Set<Subscriber>;
  /** told when a later ping does not come back: the subscription is over */
  onUnavailable: Map<Subscriber, (error: LiveUnavailableError) => void>;
  ready?: Promise<void>;
  /** pings in flight, by id */
  probes: Map<string, () => void>;
  probeCount: number;
  probeTimer?: ReturnType<typeof setInterval>;
  /** a ping did not come back: until then every subscriber is refused at once */
  silentUntil?: number;
  unlisten: (() => Promise<void>)[];
  watch?: ChangeWatch;
  /** this process's watcher id (one per process, kept across `next dev` module reloads) */
  watcher?: string;
}

const globalForHub = globalThis as unknown as { taskweaveLiveHub?: Hub };
const hub: Hub = (globalForHub.taskweaveLiveHub ??= { subscribers: new Set(), onUnavailable: new Map(), unlisten: [], probes: new Map(), probeCount: 0 });

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

const watcherId = () => (hub.watcher ??= `web:${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);

/** NOTIFY the probe channel and wait for it to come back on this process's LISTEN connection. */
async function ping(): Promise<boolean> {
  const id = `${watcherId()}:${++hub.probeCount}`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const back = new Promise<boolean>((resolve) => {
    hub.probes.set(id, () => resolve(true));
    timer = setTimeout(() => resolve(false), PROBE.timeoutMs);
  });
  try {
    await db()`select pg_catalog.pg_notify(${PROBE_CHANNEL}, ${id})`;
    return await back;
  } finally {
    clearTimeout(timer);
    hub.probes.delete(id);
  }
}

/** Start listening (once per process); resolves when LISTEN is in place and proven, so no change is missed after. */
function ensureListening(): Promise<void> {
  if (hub.silentUntil && Date.now() < hub.silentUntil) return Promise.reject(new LiveUnavailableError());
  if (!hub.ready) {
    const sql = db();
    hub.ready = Promise.all([
      ...LIVE_CHANNELS.map((channel) => sql.listen(channel, (payload) => publish(channel, payload))),
      sql.listen(PROBE_CHANNEL, (payload) => hub.probes.get(payload)?.()),
    ])
      .then(async (listeners) => {
        hub.unlisten = listeners.map((l) => l.unlisten);
        if (!(await ping())) throw new LiveUnavailableError();
        hub.silentUntil = undefined;
        hub.probeTimer ??= setInterval(() => void checkStillDelivering(), PROBE.everyMs);
        hub.probeTimer.unref?.();
      })
      .catch(async (error) => {
        await giveUp(error instanceof LiveUnavailableError);
        throw error;
      });
  }
  return hub.ready;
}

/** Drop the listeners so the next subscriber starts again; a silent channel is not retried for a while. */
async function giveUp(silent: boolean): Promise<void> {
  const unlisten = hub.unlisten;
  hub.ready = undefined;
  hub.unlisten = [];
  if (hub.probeTimer) clearInterval(hub.probeTimer);
  hub.probeTimer = undefined;
  if (silent) hub.silentUntil = Date.now() + PROBE.giveUpMs;
  await Promise.all(unlisten.map((u) => u().catch(() => undefined)));
}

/** The minute's ping while anyone is subscribed; when it does not come back, every subscription ends as unavailable. */
async function checkStillDelivering(): Promise<void> {
  if (hub.subscribers.size === 0 || !hub.ready) return;
  if (await ping().catch(() => false)) return;
  const error = new LiveUnavailableError();
  const told = [...hub.onUnavailable.values()];
  // each subscription holds the task_changed lease once
  for (let i = 0; i < hub.subscribers.size; i++) hub.watch?.release();
  hub.subscribers.clear();
  hub.onUnavailable.clear();
  await giveUp(true);
  for (const tell of told) tell(error);
}

function watch(): ChangeWatch {
  hub.watch ??= changeWatch(db(), {
    watcher: watcherId(),
    ...WATCH,
    onError: (what, error) => console.error(`[live] task_changed lease: ${what} failed:`, error),
  });
  return hub.watch;
}

/**
 * Subscribe to every notification; resolves once LISTEN is in place and proven by a ping, and the
 * task_changed lease is held. Throws LiveUnavailableError when notifications do not come back;
 * onUnavailable is called when a later ping does not (the subscription has then ended).
 */
export async function subscribe(subscriber: Subscriber, onUnavailable?: (error: LiveUnavailableError) => void): Promise<LiveSubscription> {
  await ensureListening();
  hub.subscribers.add(subscriber);
  if (onUnavailable) hub.onUnavailable.set(subscriber, onUnavailable);
  const lease = watch();
  let catchUp: boolean;
  try {
    catchUp = await lease.acquire();
  } catch (error) {
    hub.subscribers.delete(subscriber);
    hub.onUnavailable.delete(subscriber);
    throw error;
  }
  let subscribed = true;
  return {
    catchUp,
    unsubscribe() {
      if (!subscribed) return;
      subscribed = false;
      // already ended by a failed ping (which let go of the lease for everyone)
      if (!hub.subscribers.delete(subscriber)) return;
      hub.onUnavailable.delete(subscriber);
      lease.release();
    },
  };
}

/** Stop listening and end the lease (tests, graceful shutdown); the next subscriber starts again, and probes again. */
export async function stopListening(): Promise<void> {
  const lease = hub.watch;
  hub.watch = undefined;
  hub.subscribers.clear();
  hub.onUnavailable.clear();
  hub.silentUntil = undefined;
  await Promise.all([giveUp(false), lease?.stop().catch(() => undefined)]);
}

/** Ping now, as the minute's check does (tests). */
export const checkDelivery = checkStillDelivering;
