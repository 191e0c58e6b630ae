// Stamps every HTTP request with the address of the TCP peer that sent it (PEER_HEADER), overwriting
// any value a client put under that name. Next gives the proxy and pages no access to the socket, and
// the X-Forwarded-For it adds is kept as the client sent it, so it cannot tell who connected. Runs
// once per server process (src/instrumentation.ts). A request that arrives before this runs carries no
// stamp and is therefore not treated as local: the check fails closed.
import http from 'node:http';
import { PEER_HEADER } from '../auth/mode';

const marker = Symbol.for('taskweave.peerStamp');

export function stampPeerAddresses(): void {
  const proto = http.Server.prototype as http.Server & { [marker]?: boolean };
  if (proto[marker]) return;
  proto[marker] = true;
  const emit = proto.emit;
  proto.emit = function stampedEmit(this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'request') {
      const request = args[0] as http.IncomingMessage;
      request.headers[PEER_HEADER] = request.socket?.remoteAddress ?? '';
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof proto.emit;
}
