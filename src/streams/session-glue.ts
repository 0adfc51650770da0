/** What every stream does with its WebSocket session: open it, close it, read its JSON frames. */
import type { WsSession } from '../client/session.js';
import type { Readable } from 'node:stream';
import { ProtocolError } from '../errors.js';
import type { DeliveredMessage } from '../protocol/index.js';

type Callback = (error?: Error | null) => void;

/** For `_construct`: the stream is ready once the session is connected, or fails with its error. */
export function connectSession(session: WsSession, callback: Callback): void {
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
export function stopConnecting(session: WsSession): void {
  if (session.state !== 'connected') void session.close();
}

/** For `_destroy`: closes the session, then reports the stream's error (or the close's). */
export function closeSession(session: WsSession, error: Error | null, callback: Callback): void {
  session.close().then(
    () => callback(error),
    (closeError: unknown) => callback(error ?? (closeError as Error)),
  );
}

/** A server frame as JSON. @throws ProtocolError when it is not JSON. */
export function parseServerFrame<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new ProtocolError(`the server sent a frame that is not JSON: ${text.slice(0, 100)}`, {
      cause: error,
    });
  }
}

/**
 * A delivered message from a consumer or reader frame; undefined for other frames (answers to
 * commands such as isEndOfTopic) and for a frame that is not JSON, which destroys `stream`.
 */
export function deliveredMessageOf(stream: Readable, text: string): DeliveredMessage | undefined {
  let frame: DeliveredMessage;
  try {
    frame = parseServerFrame<DeliveredMessage>(text);
  } catch (error) {
    stream.destroy(error as Error);
    return undefined;
  }
  return typeof frame.messageId === 'string' ? frame : undefined;
}
