/**
 * Raw `ws` clients for load tests, speaking the Pulsar WebSocket protocol and keeping nothing they
 * receive: a producer that counts acks (pipelined, optionally bounded by an in-flight window) and a
 * consumer that acks every message and counts it. The test process stays small whatever the volume:
 * the producer waits on its own socket's buffered bytes, never on the server, unless given a window.
 */
import WebSocket from 'ws';

function textOf(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}

/**
 * Opens a socket with `ws`; rejects on an error or a refused upgrade. `wrap` runs inside the 'open'
 * event itself: frames the server sends right behind its answer to the handshake are emitted before
 * code awaiting the open resumes, so a client's listeners must be attached there or they miss them.
 */
export function openWebSocket<T = WebSocket>(url: string, wrap: (ws: WebSocket) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(wrap(ws));
    });
    ws.once('unexpected-response', (_request, response) => {
      ws.off('error', reject);
      reject(new Error(`upgrade refused: HTTP ${response.statusCode ?? 0}`));
      response.resume();
    });
    ws.once('error', reject);
  });
}

/** Wakes one waiting `until` when counts change or the socket closes. */
abstract class CountingClient {
  private wake: (() => void) | undefined;
  closed = false;
  /** What ended the connection, once it ended. */
  closeReason = '';

  protected constructor(readonly ws: WebSocket) {
    // Errors end in 'close', which is what the counts report.
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.closeReason = `${code} ${reason.toString()}`.trim();
      this.notify();
    });
  }

  protected notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits until `condition` holds; false when the socket closed or `timeoutMs` passed first. */
  protected async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.close();
    await closed;
  }
}

export interface LoadProducerOptions {
  /** Wait while this socket holds more than this many unsent bytes (bounds the test process). */
  readonly ownBufferBytes?: number;
  /** At most this many publishes without an ack (Infinity: never wait for acks). */
  readonly maxInFlight?: number;
}

export class LoadProducer extends CountingClient {
  sent = 0;
  ok = 0;
  failed = 0;
  /** The first few failed acks, for the failure message. */
  readonly failures: string[] = [];
  private readonly ownBufferBytes: number;
  private readonly maxInFlight: number;

  private constructor(ws: WebSocket, options: LoadProducerOptions) {
    super(ws);
    this.ownBufferBytes = options.ownBufferBytes ?? 8 * 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? Infinity;
    ws.on('message', (data) => {
      const text = textOf(data);
      if ((JSON.parse(text) as { result?: unknown }).result === 'ok') this.ok++;
      else {
        this.failed++;
        if (this.failures.length < 5) this.failures.push(text.slice(0, 300));
      }
      this.notify();
    });
  }

  static open(url: string, options: LoadProducerOptions = {}): Promise<LoadProducer> {
    return openWebSocket(url, (ws) => new LoadProducer(ws, options));
  }

  get acked(): number {
    return this.ok + this.failed;
  }

  /** Sends one publish frame; throws once the socket is closed. */
  async send(frame: string, timeoutMs = 60_000): Promise<void> {
    const room = await this.until(() => this.sent - this.acked < this.maxInFlight, timeoutMs);
    if (!room && !this.closed) throw new Error(`no ack within ${timeoutMs} ms with ${this.sent} sent`);
    if (this.closed || this.ws.readyState !== WebSocket.OPEN)
      throw new Error(`producer socket closed (${this.closeReason}) after ${this.sent} sent`);
    this.sent++;
    if (this.ws.bufferedAmount < this.ownBufferBytes) {
      this.ws.send(frame);
      return;
    }
    // Over the bound: wait until this frame, and so everything before it, has gone to the kernel.
    await new Promise<void>((resolve, reject) =>
      this.ws.send(frame, (error) => (error === undefined || error === null ? resolve() : reject(error))),
    );
  }

  /** Waits for an ack of every publish sent; false on timeout or close. */
  allAcked(timeoutMs: number): Promise<boolean> {
    return this.until(() => this.acked >= this.sent, timeoutMs);
  }
}

export class LoadConsumer extends CountingClient {
  received = 0;
  payloadBytes = 0;
  private readonly ids: Set<string> | undefined;

  private constructor(ws: WebSocket, trackIds: boolean) {
    super(ws);
    this.ids = trackIds ? new Set() : undefined;
    ws.on('message', (data) => {
      const message = JSON.parse(textOf(data)) as { messageId?: string; payload?: string };
      if (message.messageId === undefined) return;
      ws.send(JSON.stringify({ messageId: message.messageId }));
      this.ids?.add(message.messageId);
      this.received++;
      this.payloadBytes += Buffer.byteLength(message.payload ?? '', 'base64');
      this.notify();
    });
  }

  /** With `trackIds`, keeps every message id to count distinct ones (for small counts only). */
  static open(url: string, trackIds = false): Promise<LoadConsumer> {
    return openWebSocket(url, (ws) => new LoadConsumer(ws, trackIds));
  }

  /** Distinct message ids received (with `trackIds`). */
  get distinct(): number {
    return this.ids?.size ?? this.received;
  }

  /** Waits until `count` messages came; false on timeout or close. */
  receivedAll(count: number, timeoutMs: number): Promise<boolean> {
    return this.until(() => this.received >= count, timeoutMs);
  }
}
