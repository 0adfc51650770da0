/**
 * Who may use the sidecar's `POST /publish/{topic}`, and for which topics: a bearer token read from
 * a file (required unless the endpoint listens on loopback only, which the config schema enforces),
 * compared in constant time; and an optional list of topics, outside of which a request gets 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseTopicName } from '../protocol/index.js';
import { SidecarConfigError } from './config-error.js';

/**
 * True for addresses only this machine can reach: `localhost`, 127.0.0.0/8, `::1` (and 127.x
 * mapped into IPv6). Anything else, `0.0.0.0` and `::` included, can be reached from outside.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** How often a token file may be read again when a request brings a token that does not match. */
const REREAD_INTERVAL_MS = 1000;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * The token callers must send as `Authorization: Bearer <token>`. The file is read at start (a
 * missing or empty one stops the sidecar from starting) and again, at most once a second, when a
 * request's token does not match: a rotated token works without a restart.
 */
export class BearerToken {
  private lastRead = 0;

  private constructor(
    private readonly file: string,
    private expected: Buffer,
  ) {}

  /** @throws SidecarConfigError naming `publish.tokenFile` when the file cannot be read or is empty. */
  static async fromFile(file: string): Promise<BearerToken> {
    const token = new BearerToken(file, digest(await BearerToken.read(file)));
    token.lastRead = Date.now();
    return token;
  }

  private static async read(file: string): Promise<string> {
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new SidecarConfigError(`publish.tokenFile: cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (text === '') throw new SidecarConfigError(`publish.tokenFile: ${file} is empty`);
    return text;
  }

  /**
   * Whether `authorization` (the header's value) is `Bearer <the token>`. The comparison is of
   * digests in constant time, so neither the token's content nor its length leaks through timing.
   */
  async accepts(authorization: string | undefined): Promise<boolean> {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (given === undefined) return false;
    const presented = digest(given);
    if (timingSafeEqual(presented, this.expected)) return true;
    if (Date.now() - this.lastRead < REREAD_INTERVAL_MS) return false;
    this.lastRead = Date.now();
    try {
      this.expected = digest(await BearerToken.read(this.file));
    } catch {
      // The file went missing or empty mid-rotation: the token read last stays in force.
      return false;
    }
    return timingSafeEqual(presented, this.expected);
  }
}

/** The topics `/publish` may publish to, compared by full name (`events` is `persistent://public/default/events`). */
export class TopicAllowList {
  private readonly allowed: ReadonlySet<string>;

  /** @throws TopicNameError for a malformed name (the config schema refuses those first). */
  constructor(topics: readonly string[]) {
    this.allowed = new Set(topics.map((topic) => parseTopicName(topic).fullName));
  }

  /** `fullName` is a parsed topic's full name. */
  allows(fullName: string): boolean {
    return this.allowed.has(fullName);
  }
}
