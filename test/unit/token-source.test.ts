/**
 * Where a session's token comes from (src/client/token.ts): a file read each time, a function called
 * each time, and the errors that name their source and stay retryable (a file caught mid-rotation).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTokenOptions, currentToken } from '../../src/client/token.js';
import { PulsarWsClient } from '../../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-token-source-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('token sources', () => {
  it('a token file is read each time, trimmed', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'first.jwt.x\n');
    expect(await currentToken({ tokenFile: file })).toBe('first.jwt.x');
    await writeFile(file, '  second.jwt.y  \n');
    expect(await currentToken({ tokenFile: file })).toBe('second.jwt.y');
  });

  it('a missing, empty or multi-word file is a retryable ConnectError naming the file', async () => {
    const missing = join(dir, 'missing');
    const error = await currentToken({ tokenFile: missing }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'PWS_ERR_CONNECT', retryable: true });
    expect((error as Error).message).toMatch(new RegExp(`^cannot read the token file ${missing}: ENOENT`));
    const empty = join(dir, 'empty');
    await writeFile(empty, ' \n');
    await expect(currentToken({ tokenFile: empty })).rejects.toMatchObject({
      retryable: true,
      message: `the token file ${empty} is empty`,
    });
    const twoLines = join(dir, 'two-lines');
    await writeFile(twoLines, 'a.b.c\nd.e.f\n');
    await expect(currentToken({ tokenFile: twoLines })).rejects.toThrow(
      `the token file ${twoLines} holds whitespace or control characters inside the token`,
    );
  });

  it('a function is called each time; its failures are retryable and say so; a hang is bounded', async () => {
    let calls = 0;
    const token = () => `t${++calls}`;
    expect(await currentToken({ token })).toBe('t1');
    expect(await currentToken({ token: () => Promise.resolve(token()) })).toBe('t2');
    await expect(
      currentToken({
        token: () => {
          throw new Error('vault sealed');
        },
      }),
    ).rejects.toMatchObject({ retryable: true, message: 'the token provider failed: vault sealed' });
    await expect(currentToken({ token: () => 42 as unknown as string })).rejects.toThrow(
      'the token provider returned number, not a string',
    );
    await expect(
      currentToken({ token: () => new Promise<string>(() => undefined) }, 50),
    ).rejects.toMatchObject({
      code: 'PWS_ERR_TIMEOUT',
      retryable: true,
      message: 'the token provider did not give a token within 50 ms',
    });
  });

  it('a string is used as it is; token and tokenFile together are refused when the client is made', async () => {
    expect(await currentToken({ token: 'fixed' })).toBe('fixed');
    expect(await currentToken({})).toBeUndefined();
    expect(() => checkTokenOptions({ token: 'x', tokenFile: '/t' })).toThrow(
      'expected `token` or `tokenFile`, not both',
    );
    expect(() => new PulsarWsClient({ url: 'ws://127.0.0.1:1', tokenFile: '' })).toThrow(
      'expected `tokenFile` to be a file path, got ""',
    );
    expect(() => new PulsarWsClient({ url: 'ws://127.0.0.1:1', token: 7 as unknown as string })).toThrow(
      'expected `token` to be a string or a function returning one, got number',
    );
  });
});
