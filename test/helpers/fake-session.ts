/**
 * A session the test drives by hand, for unit tests of the streams (permits, acks, the producer
 * window) without a server: `establish()` connects, `deliver()` plays a server frame, `drop()` loses
 * the connection, and `sent` holds every frame the stream sent, parsed.
 */
import { EventEmitter } from 'node:events';
import type { SessionState, StreamSession } from '../../src/client/stream-session.js';
import { ConnectError, type PulsarWsError } from '../../src/errors.js';

export class FakeSession extends EventEmitter implements StreamSession {
  state: SessionState = 'connecting';
  connectionId = 0;
  closedOnPurpose = false;
  readonly sent: Record<string, unknown>[] = [];
  private resolveConnect: (() => void) | undefined;

  /** Resolves at once when `establish()` came first, else with the next `establish()`. */
  connect(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve) => {
      this.resolveConnect = resolve;
    });
  }

  /** The (re)connection succeeds. */
  establish(): void {
    this.connectionId += 1;
    this.state = 'connected';
    this.emit('state', 'connected');
    this.resolveConnect?.();
    this.resolveConnect = undefined;
  }

  /** The connection is lost; the session is reconnecting. */
  drop(error: PulsarWsError = new ConnectError('connection lost (test)')): void {
    this.state = 'reconnecting';
    this.emit('state', 'reconnecting', error);
  }

  /** A frame from the server (an object is sent as JSON). */
  deliver(frame: object | string): void {
    this.emit('message', typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  send(text: string): boolean {
    if (this.state !== 'connected') return false;
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
    return true;
  }

  close(): Promise<void> {
    this.closedOnPurpose = true;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.emit('state', 'closed');
    }
    return Promise.resolve();
  }

  /** The frames sent so far with this `type` (acks have none: `'ack'`). */
  sentOfType(type: string): Record<string, unknown>[] {
    return this.sent.filter((frame) => (frame.type ?? 'ack') === type);
  }
}
