/**
 * `pulsar-ws lint --config FILE` and the sidecar's refusal of an invalid config, through the built
 * CLI: each broken config (unknown key, wrong type, missing field, bad URL, bad duration, undefined
 * ${VAR}) is reported with its key path and line, exit 1 (the sidecar: the same report, exit 2).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, runCli } from '../helpers/sidecar.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-lint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const VALID = `connection:
  url: ws://127.0.0.1:8080
shutdownTimeout: 30s
pipelines:
  app-log:
    source: { type: file, path: /var/log/app/*.log, follow: true }
    sink: { type: topic, topic: app-log }
  archive:
    source: { type: topic, topic: app-log, subscription: archive }
    sink:
      type: s3
      bucket: logs
      batchInterval: 60s
`;

/** [what, the config, the line expected in the report] */
const BROKEN: readonly [string, string, string][] = [
  [
    'unknown key',
    VALID.replace('      bucket: logs', '      bucket: logs\n      gzipp: true'),
    ':13: pipelines.archive.sink.gzipp: unknown key',
  ],
  [
    'wrong type',
    VALID.replace('follow: true', 'follow: sometimes'),
    ':6: pipelines.app-log.source.follow: expected boolean, got string "sometimes"',
  ],
  [
    'missing field',
    VALID.replace('      bucket: logs\n', ''),
    ':10: pipelines.archive.sink.bucket: required',
  ],
  [
    'bad URL',
    VALID.replace('ws://127.0.0.1:8080', 'localhost:8080'),
    ':2: connection.url: expected a ws:// or wss:// URL, got "localhost:8080"',
  ],
  [
    'bad duration',
    VALID.replace('batchInterval: 60s', 'batchInterval: a minute'),
    ':13: pipelines.archive.sink.batchInterval: expected a duration',
  ],
  [
    'undefined ${VAR}',
    VALID.replace('bucket: logs', 'bucket: ${ARCHIVE_BUCKET}'),
    ':12: pipelines.archive.sink.bucket: ${ARCHIVE_BUCKET} is not set',
  ],
];

describe('pulsar-ws lint', () => {
  it('exit 0 and a summary for a valid config', async () => {
    const file = join(dir, 'valid.yaml');
    await writeFile(file, VALID);
    const result = await runCli(['lint', '--config', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${file}: ok (2 pipelines)\n`);
  });

  it.each(BROKEN)('%s: reported with its key path and line, exit 1', async (what, config, expected) => {
    const file = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, config);
    const result = await runCli(['lint', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${file}${expected}`);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('every problem at once; --format json gives path, line and message', async () => {
    const file = join(dir, 'many.yaml');
    await writeFile(
      file,
      VALID.replace('follow: true', 'follow: 1').replace('batchInterval: 60s', 'batchInterval: 60'),
    );
    const result = await runCli(['lint', '--config', file, '--format', 'json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual([
      { path: 'pipelines.app-log.source.follow', line: 6, message: 'expected boolean, got number 1' },
      {
        path: 'pipelines.archive.sink.batchInterval',
        line: 13,
        message: 'expected a duration such as 500ms, 60s, 5m or 1h, got 60',
      },
    ]);
  });

  it('interpolates from the environment', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, VALID.replace('bucket: logs', 'bucket: ${ARCHIVE_BUCKET}'));
    const result = await runCli(['lint', '--config', file], childEnv({ ARCHIVE_BUCKET: 'logs' }));
    expect(result.code).toBe(0);
  });

  it('the sidecar refuses an invalid config with the same report (exit 2)', async () => {
    const [what, config, expected] = BROKEN[2] ?? ['', '', ''];
    const file = join(dir, `sidecar-${what.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, config);
    const result = await runCli(['sidecar', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}${expected}`);
    expect(result.stderr).toMatch(/not starting/);
  });

  it('the sidecar refuses a token file it cannot read, naming the key (exit 2)', async () => {
    const file = join(dir, 'token.yaml');
    await writeFile(
      file,
      VALID.replace(
        '  url: ws://127.0.0.1:8080',
        `  url: ws://127.0.0.1:8080\n  tokenFile: ${join(dir, 'no-token')}`,
      ),
    );
    const result = await runCli(['sidecar', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/connection\.tokenFile: cannot read .*no-token/);
  });

  it('a config that cannot be read is one problem naming the file', async () => {
    const result = await runCli(['lint', '--config', join(dir, 'absent.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/absent\.yaml: cannot read .*ENOENT/);
  });
});
