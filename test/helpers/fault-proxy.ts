/**
 * A TCP proxy between any WebSocket client and any server that injects the faults a network and a
 * server can produce:
 * - `cut()`: every open connection dies on both sides (RST, as with a crashed peer);
 * - `freeze()`: open connections stop moving bytes in both directions without closing (a NAT or load
 *   balancer that dropped its state: no FIN, no RST, writes still succeed, nothing arrives);
 *   `freezeAfter(n, direction)` does it once a connection has carried n text frames that way;
 * - `freezeNew(true)`: new connections are accepted and then nothing moves (a server that hangs in
 *   its handshake);
 * - `delay(ms)`: every byte arrives `ms` later, in order;
 * - `dropFrames(direction, match)`: WebSocket text frames matching `match` are not forwarded;
 * - `inject(text)` / `injectOnConnect(text)`: a text frame from the "server" (or to it) on the open
 *   connections / on each new connection right after its handshake;
 * - `retarget(port)`: new connections go to another port (a broker that restarted elsewhere).
 * `requests` records the first HTTP request of each connection (a WebSocket handshake, or a plain
 * HTTP call) with the credentials it carried and the server's answer, so a test can tell which token
 * a (re)connect sent and whether the server took it, without waiting for anything to expire.
 * After the HTTP upgrade the proxy follows the WebSocket framing of each direction, so frames are
 * dropped and injected whole.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { OPCODE_TEXT, splitFrames, textFrame } from './ws-frames.js';

export type Direction = 'toClient' | 'toServer';

/** The first HTTP request of a proxied connection and the server's answer. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path and query string, as sent. */
  readonly target: string;
  /** The `Authorization` header as sent (`Bearer <jwt>`), if any. */
  readonly authorization: string | undefined;
  /** The `token` query parameter, URL-decoded, if any. */
  readonly tokenParam: string | undefined;
  /** The token it carried: the header's, else the query parameter's, without `Bearer `. */
  readonly token: string | undefined;
  /** The status of the server's answer (101: handshake accepted); undefined until that passed. */
  readonly status: number | undefined;
}

function requestOf(head: string): { -readonly [K in keyof ProxiedRequest]: ProxiedRequest[K] } {
  const [requestLine = '', ...headerLines] = head.split('\r\n');
  const [method = '', target = ''] = requestLine.split(' ');
  const authorization = headerLines
    .find((line) => /^authorization:/i.test(line))
    ?.replace(/^authorization:\s*/i, '')
    .trim();
  const tokenParam = new URL(target, 'http://proxy').searchParams.get('token') ?? undefined;
  const bare = (value: string | undefined): string | undefined => value?.replace(/^Bearer\s+/i, '');
  return {
    method,
    target,
    authorization,
    tokenParam,
    token: bare(authorization) ?? bare(tokenParam),
    status: undefined,
  };
}

export interface FaultProxy {
  /** `ws://127.0.0.1:PORT`: use it in place of the server's URL. */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Connections cut so far. */
  readonly cuts: number;
  /**
   * The first request of every connection that got as far as sending one, in arrival order. One
   * entry per connection: a proxy lives for one test, so this grows with that test's connections.
   */
  readonly requests: readonly ProxiedRequest[];
  cut(): void;
  freeze(): void;
  /** Freezes a connection (once) when it has forwarded `frames` text frames in `direction`. */
  freezeAfter(frames: number, direction: Direction): void;
  freezeNew(on: boolean): void;
  delay(ms: number): void;
  /** `undefined` stops dropping in that direction. */
  dropFrames(direction: Direction, match: ((text: string) => boolean) | undefined): void;
  inject(text: string, direction?: Direction): void;
  /** `undefined` stops injecting. */
  injectOnConnect(text: string | undefined): void;
  retarget(port: number): void;
  close(): Promise<void>;
}

interface ProxyState {
  latencyMs: number;
  readonly drop: Record<Direction, ((text: string) => boolean) | undefined>;
  injectOnConnect: string | undefined;
  freezeAfter: { readonly frames: number; readonly direction: Direction } | undefined;
}

/** One direction of one connection: HTTP head first, then whole WebSocket frames. */
class Pipe {
  private inHead = true;
  private plainHttp = false;
  private held: Buffer = Buffer.alloc(0);
  frozen = false;
  private textFrames = 0;
  /** Called with the HTTP head (request or response) when it passes in this direction. */
  onHead: ((head: string) => void) | undefined;
  /** Called once the HTTP head of a WebSocket upgrade has passed in this direction. */
  onHeadPassed: (() => void) | undefined;
  /** Called when `freezeAfter` says this connection must freeze now. */
  onFreezePoint: (() => void) | undefined;

  constructor(
    private readonly to: Socket,
    private readonly direction: Direction,
    private readonly state: ProxyState,
  ) {}

  receive(chunk: Buffer): void {
    // A frozen path loses what is sent into it, as a dropped NAT entry does.
    if (this.frozen) return;
    if (this.plainHttp) {
      this.forward(chunk);
      return;
    }
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    if (this.inHead) {
      const end = this.held.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.held.subarray(0, end + 4);
      // Recorded before it is passed on: whoever reads it learns of it after the proxy did.
      this.onHead?.(head.toString('latin1'));
      this.forward(head);
      this.held = this.held.subarray(end + 4);
      this.inHead = false;
      // Not a WebSocket upgrade (an admin call on the same port, or a refused handshake): the
      // body is plain bytes, passed on as they come.
      const text = head.toString('latin1');
      if (
        this.direction === 'toServer' ? !/^upgrade:\s*websocket/im.test(text) : !/^HTTP\/1\.1 101/.test(text)
      ) {
        this.plainHttp = true;
        if (this.held.length > 0) this.forward(this.held);
        this.held = Buffer.alloc(0);
        return;
      }
      this.onHeadPassed?.();
    }
    const { frames, rest } = splitFrames(this.held);
    this.held = rest;
    const drop = this.state.drop[this.direction];
    for (const frame of frames) {
      if (drop !== undefined && frame.opcode === OPCODE_TEXT && drop(frame.payload.toString('utf8')))
        continue;
      // A freeze point reached by an earlier frame of this chunk stops the rest of it too.
      if (this.frozen) return;
      this.forward(frame.bytes);
      if (frame.opcode === OPCODE_TEXT) this.countTextFrame();
    }
  }

  private countTextFrame(): void {
    this.textFrames += 1;
    const point = this.state.freezeAfter;
    if (point?.direction === this.direction && this.textFrames >= point.frames) {
      this.state.freezeAfter = undefined;
      this.onFreezePoint?.();
    }
  }

  injectText(text: string): void {
    if (this.frozen || this.inHead || this.plainHttp) return;
    this.forward(textFrame(text, this.direction === 'toServer'));
  }

  private forward(bytes: Buffer): void {
    const copy = Buffer.from(bytes);
    if (this.state.latencyMs <= 0) {
      this.to.write(copy);
      return;
    }
    // Equal delays fire in the order they were set: bytes stay in order.
    setTimeout(() => {
      if (!this.frozen && !this.to.destroyed) this.to.write(copy);
    }, this.state.latencyMs);
  }
}

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: Record<Direction, Pipe>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  let targetPort = Number(target.port);
  const open = new Set<Connection>();
  const state: ProxyState = {
    latencyMs: 0,
    drop: { toClient: undefined, toServer: undefined },
    injectOnConnect: undefined,
    freezeAfter: undefined,
  };
  let cuts = 0;
  let accepted = 0;
  const requests: ProxiedRequest[] = [];
  let freezeNewConnections = false;

  const server: Server = createServer((client) => {
    accepted += 1;
    const upstream = connect(targetPort, target.hostname);
    const connection: Connection = {
      client,
      upstream,
      pipes: {
        toServer: new Pipe(upstream, 'toServer', state),
        toClient: new Pipe(client, 'toClient', state),
      },
    };
    if (freezeNewConnections) {
      connection.pipes.toServer.frozen = true;
      connection.pipes.toClient.frozen = true;
    }
    const freezeConnection = (): void => {
      connection.pipes.toServer.frozen = true;
      connection.pipes.toClient.frozen = true;
    };
    connection.pipes.toServer.onFreezePoint = freezeConnection;
    connection.pipes.toClient.onFreezePoint = freezeConnection;
    let request: ReturnType<typeof requestOf> | undefined;
    connection.pipes.toServer.onHead = (head) => {
      request = requestOf(head);
      requests.push(request);
    };
    connection.pipes.toClient.onHead = (head) => {
      if (request !== undefined) request.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    };
    connection.pipes.toClient.onHeadPassed = () => {
      if (state.injectOnConnect !== undefined) connection.pipes.toClient.injectText(state.injectOnConnect);
    };
    open.add(connection);
    // A close on one side reaches the other, except on a frozen path: there the peer never hears
    // of it (as behind a NAT that lost its state) and holds its end until its own idle timeout.
    const frozen = (): boolean => connection.pipes.toServer.frozen;
    const closeFrom = (side: Socket, other: Socket) => (): void => {
      side.destroy();
      if (!frozen()) other.destroy();
      if (client.destroyed && upstream.destroyed) open.delete(connection);
    };
    client.on('error', closeFrom(client, upstream)).on('close', closeFrom(client, upstream));
    upstream.on('error', closeFrom(upstream, client)).on('close', closeFrom(upstream, client));
    client.on('data', (chunk: Buffer) => connection.pipes.toServer.receive(chunk));
    upstream.on('data', (chunk: Buffer) => connection.pipes.toClient.receive(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const pipes = (direction: Direction): Pipe[] => [...open].map((connection) => connection.pipes[direction]);

  return {
    url: `${target.protocol}//127.0.0.1:${address.port}`,
    port: address.port,
    get connections() {
      return accepted;
    },
    get open() {
      return open.size;
    },
    get cuts() {
      return cuts;
    },
    requests,
    cut() {
      cuts += 1;
      for (const { client, upstream } of open) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      open.clear();
    },
    freeze() {
      for (const pipe of [...pipes('toClient'), ...pipes('toServer')]) pipe.frozen = true;
    },
    freezeAfter(frames, direction) {
      state.freezeAfter = { frames, direction };
    },
    freezeNew(on) {
      freezeNewConnections = on;
    },
    delay(ms) {
      state.latencyMs = ms;
    },
    dropFrames(direction, match) {
      state.drop[direction] = match;
    },
    inject(text, direction = 'toClient') {
      for (const pipe of pipes(direction)) pipe.injectText(text);
    },
    injectOnConnect(text) {
      state.injectOnConnect = text;
    },
    retarget(port) {
      targetPort = port;
    },
    async close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
