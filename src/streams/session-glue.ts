/** What every stream does with its WebSocket session: open it, close it, read its delivered messages. */
import type { SessionState, StreamSession } from '../client/stream-session.js';
import type { PulsarWsError } from '../errors.js';
import type { Readable, Writable } from 'node:stream';
import { decodeConsumerServerFrame, type DecodedDelivery } from '../protocol/index.js';

type Callback = (error?: Error | null) => void;

/**
 * Wires a stream to its session: frames go to `onFrame`; state changes are re-emitted on the stream
 * (so callers see reconnects: `stream.on('state', (state, error) => ...)`), then passed to `onState`
 * for the stream's own bookkeeping; a session closed by an error destroys the stream with it.
 */
export function bindSession(
  stream: Readable | Writable,
  session: StreamSession,
  onFrame: (text: string) => void,
  onState: (state: SessionState, error?: PulsarWsError) => void = () => undefined,
): void {
  session.on('message', onFrame);
  session.on('state', (state, error) => {
    stream.emit('state', state, error);
    onState(state, error);
    if (state === 'closed' && error !== undefined) stream.destroy(error);
  });
}

/** For `_construct`: the stream is ready once the session is connected, or fails with its error. */
export function connectSession(session: StreamSession, callback: Callback): void {
  session.connect().then(
    () => callback(),
    // Destroyed while connecting (the session was closed on purpose): the destroy's own error, if
    // any, is the one to report.
    (error: unknown) => callback(session.closedOnPurpose ? null : (error as Error)),
  );
}

/**
 * For a `destroy()` override: Node runs `_destroy` only after `_construct` finished, and
 * construction waits for the connection, which may be retrying. Closing the session first ends that
 * wait, so a stream destroyed while connecting does not hang.
 */
export function stopConnecting(session: StreamSession): void {
  if (session.state !== 'connected') void session.close();
}

/** For `_destroy`: closes the session, then reports the stream's error (or the close's). */
export function closeSession(session: StreamSession, error: Error | null, callback: Callback): void {
  session.close().then(
    () => callback(error),
    (closeError: unknown) => callback(error ?? (closeError as Error)),
  );
}

/**
 * The delivered message in a consumer or reader frame; undefined for other frames (answers to
 * `isEndOfTopic`) and for a frame that fails validation, which destroys `stream` with its
 * `ProtocolError` (naming the frame and the field).
 */
export function deliveredMessageOf(
  stream: Readable,
  text: string,
  frameKind: 'consumer frame' | 'reader frame',
): DecodedDelivery | undefined {
  try {
    const frame = decodeConsumerServerFrame(text, frameKind);
    return frame.kind === 'message' ? frame.message : undefined;
  } catch (error) {
    stream.destroy(error as Error);
    return undefined;
  }
}
