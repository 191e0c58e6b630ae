// Server-sent events: the browser's live feed of task and review changes (Postgres LISTEN, fanned out).
import { getViewer } from '@/lib/auth/viewer';
import { LiveUnavailableError, subscribe } from '@/lib/live/notifications';

export const dynamic = 'force-dynamic';

const HEARTBEAT_MS = 15_000;

export async function GET(request: Request): Promise<Response> {
  const viewer = await getViewer();
  if (viewer.kind !== 'operator') {
    return new Response('Live updates are for operators.', { status: viewer.kind === 'not-operator' ? 403 : 401 });
  }

  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let closed = false;
      const write = (text: string) => {
        if (closed) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup();
        }
      };
      let unsubscribe = () => {};
      const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
      cleanup = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      };
      request.signal.addEventListener('abort', () => cleanup());
      // notifications stopped coming back (the hub's ping): the browser polls instead, and says so
      const unavailable = (reason: string) => {
        write(`event: unavailable\ndata: ${JSON.stringify({ reason })}\n\n`);
        cleanup();
      };
      try {
        const subscription = await subscribe(
          ({ channel, payload }) => write(`event: ${channel}\ndata: ${JSON.stringify(payload)}\n\n`),
          () => unavailable('notifications stopped arriving'),
        );
        if (closed) subscription.unsubscribe();
        else unsubscribe = subscription.unsubscribe;
        // tell the browser to reconnect after 2 s if the stream drops, then that it is live; catch_up: the
        // server had to start asking Postgres for task_changed, so changes before now went unannounced
        write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify(subscription.catchUp ? { catch_up: true } : {})}\n\n`);
      } catch (error) {
        if (error instanceof LiveUnavailableError) {
          console.error(`[live] ${error.message}`);
          unavailable('notifications do not arrive through this database connection');
        } else {
          console.error('[live] cannot LISTEN for changes or hold the task_changed lease:', error);
          unavailable('the server cannot listen for changes');
        }
      }
    },
    cancel() {
      cleanup();
    },
  });

  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}
