/**
 * Who may use the sidecar's `POST /publish/{topic}`, and for which topics: a bearer token read from
 * a file (required unless the endpoint listens on loopback only, which the config schema enforces),
 * compared in constant time; and an optional list of topics, outside of which a request gets 403.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { matchesSecret, secretDigest } from '../connectors/constant-time.js';
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

/** How often a request may make the token file be checked (a `stat`) for a change. */
const CHECK_INTERVAL_MS = 1000;

/** What tells a rewritten or replaced file from the one read last, without reading it. */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

interface TokenFileState {
  /** The token's digest; undefined while the file is missing or empty (every request is refused). */
  readonly expected: Buffer | undefined;
  /** The file's identity when read; undefined when it could not be read. */
  readonly identity: string | undefined;
}

/**
 * The token callers must send as `Authorization: Bearer <token>`. The file is read at start (a
 * missing or empty one stops the sidecar from starting). Requests then make it checked (`stat`: device,
 * inode, size, times) at most once a second, and re-read when it changed, so a rotated file takes
 * over within about a second: the new token works and the old one is refused, a leaked token being
 * revoked by rotating the file. `reread()` (on SIGHUP) reads it at once. A file gone missing or empty
 * after the start refuses every request until it holds a token again (fail closed: a revocation must
 * not be undone by a half-done rotation), with a warning in the log.
 */
export class BearerToken {
  private lastChecked = 0;
  /** The check under way, shared by the requests that arrive meanwhile. */
  private checking: Promise<void> | undefined;

  private constructor(
    private readonly file: string,
    private state: TokenFileState,
    private readonly logger: Logger,
  ) {}

  /** @throws SidecarConfigError naming `publish.tokenFile` when the file cannot be read or is empty. */
  static async fromFile(file: string, logger: Logger): Promise<BearerToken> {
    const token = new BearerToken(file, await BearerToken.read(file), logger);
    token.lastChecked = Date.now();
    return token;
  }

  /** @throws SidecarConfigError naming `publish.tokenFile` when the file cannot be read or is empty. */
  private static async read(file: string): Promise<TokenFileState> {
    let text: string;
    let identity: string;
    try {
      // Stat first: a change after it is seen by the next check rather than missed.
      identity = identityOf(await stat(file));
      text = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new SidecarConfigError(`publish.tokenFile: cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (text === '') throw new SidecarConfigError(`publish.tokenFile: ${file} is empty`);
    return { expected: secretDigest(text), identity };
  }

  /**
   * Whether `authorization` (the header's value) is `Bearer <the token>`, the file checked for a
   * change first when a second went by since it was last. The comparison is of digests in constant
   * time (constant-time.ts), so neither the token's content nor its length leaks through timing.
   */
  async accepts(authorization: string | undefined): Promise<boolean> {
    if (Date.now() - this.lastChecked >= CHECK_INTERVAL_MS) await this.checkForChange();
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const { expected } = this.state;
    if (given === undefined || expected === undefined) return false;
    return matchesSecret(given, expected);
  }

  /**
   * Reads the file again now (SIGHUP). @returns whether the token changed; false with a warning
   * logged when the file cannot be read or is empty (every request is refused until it is fixed).
   */
  async reread(): Promise<boolean> {
    await this.checking;
    this.lastChecked = Date.now();
    return this.load();
  }

  private checkForChange(): Promise<void> {
    this.checking ??= (async () => {
      this.lastChecked = Date.now();
      let identity: string | undefined;
      try {
        identity = identityOf(await stat(this.file));
      } catch {
        identity = undefined;
      }
      if (identity !== undefined && identity === this.state.identity) return;
      if (await this.load())
        this.logger.info({ tokenFile: this.file }, 'publish token file changed: re-read');
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Reads the file into the state. @returns whether the token changed. */
  private async load(): Promise<boolean> {
    const before = this.state.expected;
    try {
      this.state = await BearerToken.read(this.file);
    } catch (error) {
      if (this.state.expected !== undefined) {
        this.logger.warn(
          { err: error, tokenFile: this.file },
          'publish token file unreadable or empty: every POST /publish is refused (401) until it holds a token',
        );
      }
      this.state = { expected: undefined, identity: undefined };
      return before !== undefined;
    }
    return before === undefined || !before.equals(this.state.expected ?? Buffer.alloc(0));
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
