/**
 * HTTP at the socket level, for what `fetch` cannot show: a request whose head is sent and whose
 * body never comes (or comes only once something else happened), answered (or not) by the server,
 * and whether the server then closed the connection.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON object in the answer's body, if any. */
  readonly json: Record<string, unknown> | undefined;
  /** True when the server ended the connection after answering. */
  readonly closedByServer: boolean;
  /** True when the server first said `100 Continue` (inviting the body). */
  readonly continued: boolean;
}

/**
 * Sends the head of a request announcing `Content-Length: declaredLength` and no byte of its body,
 * then waits for the server to answer and close the connection (`timeoutMs` only turns a server
 * that waits for the body forever into a failure message).
 */
export function headWithoutBody(
  url: string,
  headers: Readonly<Record<string, string>>,
  declaredLength = 1000,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  return rawRequest(url, headers, declaredLength, timeoutMs);
}

/**
 * Sends the head of a request announcing `Content-Length: declaredLength`, then its body one byte
 * every `intervalMs` (never all of it), until the server answers and closes the connection: a
 * client too slow to be served.
 */
export function tricklingBody(
  url: string,
  headers: Readonly<Record<string, string>>,
  declaredLength = 1000,
  intervalMs = 20,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  return rawRequest(url, headers, declaredLength, timeoutMs, intervalMs);
}

/**
 * Sends the head of a request with `Expect: 100-continue`; once the server invites the body (the
 * request was admitted and is being handled), awaits `meanwhile` and only then sends `body`: for
 * what happens to a request the server already holds when something else changes.
 */
export function bodyAfterContinue(
  url: string,
  body: string,
  meanwhile: () => Promise<void>,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const headers = { Expect: '100-continue' };
  return rawRequest(url, headers, Buffer.byteLength(body), timeoutMs, undefined, { body, meanwhile });
}

async function rawRequest(
  url: string,
  headers: Readonly<Record<string, string>>,
  declaredLength: number,
  timeoutMs: number,
  trickleIntervalMs?: number,
  afterContinue?: { readonly body: string; readonly meanwhile: () => Promise<void> },
): Promise<RawAnswer> {
  const target = new URL(url);
  const socket = connect(Number(target.port), target.hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    const first = received === '';
    received += chunk.toString('latin1');
    if (first && afterContinue !== undefined && received.startsWith('HTTP/1.1 100 ')) {
      void afterContinue.meanwhile().then(
        () => socket.write(afterContinue.body),
        (error: unknown) => socket.destroy(error as Error),
      );
    }
  });
  const lines = [
    `POST ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    `Content-Length: ${declaredLength}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let sent = 0;
  const trickle =
    trickleIntervalMs === undefined
      ? undefined
      : setInterval(() => {
          // One byte short of the whole body at most (the server must not get it all), and none
          // once the server answered.
          if (received === '' && sent < declaredLength - 1 && socket.writable) {
            socket.write('x');
            sent += 1;
          }
        }, trickleIntervalMs);
  const closedByServer = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${timeoutMs} ms; received: ${received}`));
    }, timeoutMs);
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  }).finally(() => clearInterval(trickle));
  socket.destroy();
  const interim = /^HTTP\/1\.1 100 [^\r]*\r\n\r\n/.exec(received)?.[0] ?? '';
  const [head = '', body = ''] = received.slice(interim.length).split('\r\n\r\n', 2);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const answerHeaders: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    answerHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const json = /\{.*\}/s.exec(body)?.[0];
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: answerHeaders,
    json: json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>),
    closedByServer,
    continued: interim !== '',
  };
}
