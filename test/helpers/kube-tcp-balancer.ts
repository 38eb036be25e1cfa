// A small TCP load balancer on 127.0.0.1, as a Kubernetes Service (kube-proxy)
// puts several meshcd replicas behind one address: each new connection goes
// to the next backend in turn; a backend that refuses the connection is
// skipped for the next one. When a backend dies its connections are closed
// on the client side too, so a client reconnects and lands on another
// replica. Nothing leaves loopback.

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpBalancer {
  /** `127.0.0.1:<port>` */
  address: string;
  /** Connections made so far to each backend (by its `host:port`). */
  connections(): Record<string, number>;
  close(): Promise<void>;
}

const split = (a: string): [string, number] => [a.slice(0, a.lastIndexOf(':')), Number(a.slice(a.lastIndexOf(':') + 1))];

export async function startTcpBalancer(backends: readonly string[]): Promise<TcpBalancer> {
  let next = 0;
  const counts: Record<string, number> = Object.fromEntries(backends.map((b) => [b, 0]));
  const open = new Set<Socket>();
  const pick = (client: Socket, tries: number): void => {
    if (tries >= backends.length || client.destroyed) {
      client.destroy();
      return;
    }
    const target = backends[next++ % backends.length]!;
    const [host, port] = split(target);
    const upstream = connect(port, host);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      counts[target] = (counts[target] ?? 0) + 1;
      open.add(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    const drop = () => {
      open.delete(upstream);
      open.delete(client);
      upstream.destroy();
      client.destroy();
    };
    upstream.once('error', () => (connected ? drop() : pick(client, tries + 1)));
    upstream.once('close', () => connected && drop());
    client.once('close', () => connected && drop());
  };
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on('error', () => client.destroy());
    pick(client, 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: () => ({ ...counts }),
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
