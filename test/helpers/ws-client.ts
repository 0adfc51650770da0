/**
 * A raw `ws` client for protocol tests: queued inbound frames with timeouts, the close code, and the
 * HTTP status of a refused handshake. Frames are never interpreted here; tests assert on them.
 */
import WebSocket from 'ws';
import { textOf } from '../../src/broker/sessions/socket.js';

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** Default wait for an expected frame. Generous: real Pulsar on a busy 2-core machine can be slow. */
export const FRAME_TIMEOUT_MS = 10_000;
/** How long "nothing more arrives" is watched for. */
export const QUIET_PERIOD_MS = 600;

export class TestSocket {
  private readonly frames: string[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<CloseInfo>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // The API sends text frames only; a binary one is kept visibly marked so a test fails on it.
      this.frames.push(isBinary ? `<binary frame: ${textOf(data)}>` : textOf(data));
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.waiter?.();
      });
    });
    ws.on('error', () => undefined); // surfaced through `closed`
  }

  /** Opens a socket; rejects with HandshakeRefusedError when the server answers with an HTTP error. */
  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => resolve(new TestSocket(ws)));
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => reject(new HandshakeRefusedError(response.statusCode ?? 0, body)));
        response.on('error', reject);
      });
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame as text; rejects on timeout or close. */
  async nextText(timeoutMs = FRAME_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  async next<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.nextText(timeoutMs)) as T;
  }

  /** Collects exactly `count` frames. */
  async take<T = Record<string, unknown>>(count: number, timeoutMs?: number): Promise<T[]> {
    const frames: T[] = [];
    while (frames.length < count) frames.push(await this.next<T>(timeoutMs));
    return frames;
  }

  /** Frames that arrive within the quiet period (expected: none, or a known few). */
  async drain(quietMs = QUIET_PERIOD_MS): Promise<string[]> {
    const frames: string[] = [];
    for (;;) {
      try {
        frames.push(await this.nextText(quietMs));
      } catch {
        return frames;
      }
    }
  }

  get bufferedCount(): number {
    return this.frames.length;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

export class HandshakeRefusedError extends Error {
  override readonly name = 'HandshakeRefusedError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`Unexpected server response: ${status}`);
  }
}

/** The HTTP status a handshake ends with: 101 when it opens (the socket is closed again). */
export async function handshakeStatus(url: string): Promise<number> {
  try {
    const socket = await TestSocket.open(url);
    await socket.close();
    return 101;
  } catch (error) {
    if (error instanceof HandshakeRefusedError) return error.status;
    throw error;
  }
}

/** Sockets opened through `track` are closed after the test. */
export class SocketPool {
  private readonly sockets: TestSocket[] = [];

  async open(url: string, options?: WebSocket.ClientOptions): Promise<TestSocket> {
    const socket = await TestSocket.open(url, options);
    this.sockets.push(socket);
    return socket;
  }

  /**
   * Opens a socket on a name or an Exclusive subscription a just-closed socket held. Pulsar releases
   * the producer or consumer behind a closed socket asynchronously, so the handshake can meet a 409
   * for a moment; only that status is retried, for up to `timeoutMs`. Any other refusal is thrown.
   */
  async reopen(url: string, timeoutMs = 5_000): Promise<TestSocket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.open(url);
      } catch (error) {
        const stillHeld = error instanceof HandshakeRefusedError && error.status === 409;
        if (!stillHeld || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.sockets.splice(0).map((socket) => socket.close()));
  }
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function fromBase64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}
