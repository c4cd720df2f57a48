import { createServer, Server, Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of a real server, that can go silent: while stalled, it accepts
 * connections and keeps them open but passes nothing either way, as a network that drops packets
 * does. The server behind it is never touched.
 */
export class StallProxy {
  /** Nothing passes while set. */
  stalled = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.pass(client));
  }

  /** A proxy on a free port of 127.0.0.1 to `target`. */
  static async start(target: { host: string; port: number }): Promise<StallProxy> {
    const proxy = new StallProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Cuts every connection through it (they close at once). */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pass(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // A peer that goes away ends the other side too.
      socket.on('error', () => undefined);
      socket.on('close', () => (socket === client ? upstream : client).destroy());
    }
    client.on('data', (chunk) => this.stalled || upstream.write(chunk));
    upstream.on('data', (chunk) => this.stalled || client.write(chunk));
  }
}

/** The host and port of a `postgres://` or `redis://` URL. */
export function hostAndPort(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || defaultPort) };
}

/** `url` with its host and port replaced by the proxy's. */
export function through(url: string, proxy: StallProxy): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}
