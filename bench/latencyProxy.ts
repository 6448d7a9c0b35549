/**
 * A TCP proxy that adds network latency: every chunk read on either side is written to the
 * other side `delayMs` later, in order. A request/response exchange over an open connection
 * therefore costs 2 × delayMs more than direct (one delay each way); opening a connection
 * costs nothing extra (the proxy accepts locally), and the first bytes then wait as any other.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface LatencyProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Writes chunks to `to` `delayMs` after they were read, keeping their order; ends `to` after the last one. */
function delayedPipe(from: Socket, to: Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) return;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, queue[0].due - now);
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ due: Date.now() + delayMs, chunk });
    if (!timer) timer = setTimeout(drain, delayMs);
  };
  from.on("data", (chunk: Buffer) => push(chunk));
  from.on("end", () => push(null));
}

export async function startLatencyProxy(targetPort: number, delayMs: number, targetHost = "127.0.0.1"): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", (hadError) => {
        sockets.delete(s);
        // A reset on one side resets the other (after the same delay, as a network would);
        // a graceful end travels through the delayed pipe like the data before it.
        if (hadError) setTimeout(() => (s === client ? upstream : client).destroy(), delayMs + 1);
      });
      s.on("error", () => s.destroy());
    }
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
