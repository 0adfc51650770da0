/** What every stream does with its WebSocket session: open it, close it, read its delivered messages. */
import type { StreamSession } from '../client/stream-session.js';
import type { Readable } from 'node:stream';
import { decodeConsumerServerFrame, type DecodedDelivery } from '../protocol/index.js';

type Callback = (error?: Error | null) => void;

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
