/**
 * What a stream needs of its session, and nothing more: the streams depend on this narrow interface
 * instead of the concrete `WsSession`, so their permit arithmetic, ack bookkeeping and producer
 * window can be tested against a fake session with fake timers.
 */
import type { PulsarWsError } from '../errors.js';

export type SessionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface StreamSession {
  readonly state: SessionState;
  /** True once `close()` was called. */
  readonly closedOnPurpose: boolean;
  /** 1 for the first connection, +1 per reconnect; changes before the new connection's first frame. */
  readonly connectionId: number;
  /** Resolves once connected; rejects with the error that ended the attempts. */
  connect(): Promise<void>;
  /** Sends a text frame; false when there is no open connection (the frame is not sent). */
  send(text: string): boolean;
  /** Closes for good; idempotent, resolves once the socket is closed. */
  close(): Promise<void>;
  on(event: 'state', listener: (state: SessionState, error?: PulsarWsError) => void): this;
  on(event: 'message', listener: (text: string) => void): this;
}
