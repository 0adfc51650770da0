/**
 * The text of an error as clients get it (HTTP reasons of refused handshakes, close reasons,
 * `send-error` acks, admin answers): its message without the file paths that Node's system errors
 * carry (`EACCES: permission denied, open '/var/lib/broker/topics/…/ledger-3.log'`), here or in an
 * error it wraps. A client learns what failed, never where the broker keeps its data; the broker's log
 * has the whole error.
 */

/** How deep a chain of `cause`s is followed. */
const MAX_CAUSES = 8;

export function clientMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let message = error.message;
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < MAX_CAUSES; depth++) {
    const { path, dest } = current as { path?: unknown; dest?: unknown };
    // Node's format: `<code>: <description>, <syscall> '<path>' -> '<dest>'`.
    if (typeof dest === 'string' && dest !== '') message = message.replaceAll(` -> '${dest}'`, '');
    if (typeof path === 'string' && path !== '') message = message.replaceAll(` '${path}'`, '');
    current = current.cause;
  }
  return message;
}
