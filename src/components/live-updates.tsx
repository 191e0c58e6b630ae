'use client';
// Keeps every page current: listens to /api/live (server-sent events fed by Postgres LISTEN) and
// re-renders the page from the server when something changes. Another operator's resolution and new
// reviews are also announced, since a row vanishing from the queue needs an explanation.
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState, useTransition } from 'react';

type Connection = 'connecting' | 'live' | 'reconnecting' | 'unavailable';
interface Notice {
  key: number;
  text: string;
  href?: string;
}

const REFRESH_DELAY_MS = 50;
const REFRESH_GIVE_UP_MS = 5_000;
const FALLBACK_POLL_MS = 10_000;

export function LiveUpdates({ viewerName }: { viewerName: string }) {
  const router = useRouter();
  const [connection, setConnection] = useState<Connection>('connecting');
  // why the feed is not live, as the server said (its ping did not come back, or it cannot LISTEN)
  const [why, setWhy] = useState<string | null>(null);
  const [notices, setNotices] = useState<Notice[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  // One refresh in flight at a time: changes that arrive meanwhile mark the page stale, and exactly
  // one more refresh follows when the current one has rendered. (Firing a refresh per change under a
  // burst, such as a fan-out being created, keeps superseding the one in flight and delays them all.)
  const [refreshing, startRefresh] = useTransition();
  const inFlight = useRef<number | null>(null);
  const stale = useRef(false);
  const scheduleRef = useRef<() => void>(() => {});

  useEffect(() => {
    if (refreshing) return;
    inFlight.current = null;
    if (stale.current) scheduleRef.current();
  }, [refreshing]);

  useEffect(() => {
    const scheduleRefresh = () => {
      stale.current = true;
      if (timer.current || inFlight.current !== null) return;
      timer.current = setTimeout(() => {
        timer.current = null;
        stale.current = false;
        const started = Date.now();
        inFlight.current = started;
        startRefresh(() => router.refresh());
        // never wait forever on a refresh whose end went unnoticed
        setTimeout(() => {
          if (inFlight.current !== started) return;
          inFlight.current = null;
          if (stale.current) scheduleRefresh();
        }, REFRESH_GIVE_UP_MS);
      }, REFRESH_DELAY_MS);
    };
    scheduleRef.current = scheduleRefresh;
    const notify = (text: string, href?: string) => {
      const key = Date.now() + Math.random();
      setNotices((list) => [...list.slice(-3), { key, text, href }]);
      setTimeout(() => setNotices((list) => list.filter((n) => n.key !== key)), 8000);
    };

    let everConnected = false;
    const source = new EventSource('/api/live');
    source.addEventListener('ready', (event) => {
      setConnection('live');
      // after a drop, or when the server only now started asking Postgres for task changes (nobody was
      // watching before), changes may have been missed: catch up once
      let catchUp = false;
      try {
        catchUp = (JSON.parse((event as MessageEvent<string>).data) as { catch_up?: boolean }).catch_up === true;
      } catch {
        // not JSON: no catch-up asked for
      }
      if (everConnected || catchUp) scheduleRefresh();
      everConnected = true;
    });
    // without a live feed that proves itself (LISTEN refused, or accepted and silent, as through a
    // transaction pooler: the server's own ping did not come back) fall back to polling, and say so
    let poll: ReturnType<typeof setInterval> | null = null;
    const startPolling = () => {
      setConnection('unavailable');
      source.close();
      poll ??= setInterval(scheduleRefresh, FALLBACK_POLL_MS);
    };
    source.addEventListener('unavailable', (event) => {
      try {
        const reason = (JSON.parse((event as MessageEvent<string>).data) as { reason?: unknown }).reason;
        if (typeof reason === 'string') setWhy(reason);
      } catch {
        // no reason given: the words below still say the page is not live
      }
      startPolling();
      scheduleRefresh(); // what changed while the server found out is shown now, not in 10 s
    });
    source.addEventListener('task_changed', scheduleRefresh);
    source.addEventListener('task_ready', scheduleRefresh);
    source.addEventListener('review_changed', (event) => {
      scheduleRefresh();
      try {
        const review = JSON.parse((event as MessageEvent<string>).data) as {
          task_id?: string;
          status?: string;
          action?: string;
          resolved_by?: string;
        };
        const href = review.task_id ? `/tasks/${review.task_id}` : undefined;
        if (review.status === 'resolved' && review.resolved_by && review.resolved_by !== viewerName) {
          notify(`${review.resolved_by} resolved a review (${review.action ?? 'resolved'}).`, href);
        } else if (review.status === 'open') {
          notify('A new review is waiting.', href);
        }
      } catch {
        // the refresh above is what matters
      }
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) startPolling();
      else setConnection('reconnecting');
    };
    return () => {
      source.close();
      if (poll) clearInterval(poll);
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    };
  }, [router, viewerName, startRefresh]);

  const dot = { connecting: 'bg-slate-400', live: 'bg-emerald-500', reconnecting: 'bg-amber-500', unavailable: 'bg-rose-500' }[connection];
  const words = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', unavailable: 'Not live: refreshing every 10 s' }[connection];
  const title =
    connection === 'unavailable'
      ? `Live updates are off${why ? `: ${why}` : ''}. The page refreshes itself every 10 s instead.`
      : 'Pages update as tasks and reviews change';
  return (
    <>
      <span className="inline-flex items-center gap-1.5 text-xs text-slate-600" data-live={connection} title={title}>
        <span className={`h-2 w-2 rounded-full ${dot}`} aria-hidden />
        {words}
      </span>
      <div aria-live="polite" className="pointer-events-none fixed right-4 bottom-4 z-50 flex w-80 flex-col gap-2">
        {notices.map((notice) => (
          <div key={notice.key} role="status" className="pointer-events-auto rounded-md bg-slate-900 px-3 py-2 text-sm text-white shadow-lg">
            {notice.text}{' '}
            {notice.href ? (
              <Link href={notice.href} className="underline">
                Open task
              </Link>
            ) : null}
          </div>
        ))}
      </div>
    </>
  );
}
