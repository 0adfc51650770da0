/**
 * Sidecar config: the example parses; each broken config (unknown key, wrong type, missing
 * field, bad URL, bad duration, undefined ${VAR}) is reported with its key path and line; env and
 * flags override the file; durations and sizes parse; a topic or reader source's receiverQueueSize
 * is checked.
 */
import { describe, expect, it } from 'vitest';
import { formatProblems, parseConfig } from '../../src/sidecar/config.js';
import { parseDuration, parseSize } from '../../src/sidecar/units.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../../src/streams/consumer-stream.js';
import { PIPE_READER_QUEUE_SIZE } from '../../src/streams/reader-stream.js';

const EXAMPLE = `connection:
  url: \${PULSAR_WS_URL:ws://127.0.0.1:8080}
http:
  listen: 127.0.0.1:9464
shutdownTimeout: 30s
pipelines:
  app-log:
    source: { type: file, path: /var/log/app/*.log, format: lines, follow: true, checkpoint: /var/lib/pws/app-log.json }
    sink:   { type: topic, topic: app-log, dedup: true }
  archive:
    source: { type: topic, topic: app-log, subscription: archive }
    sink:   { type: s3, bucket: logs, endpoint: http://minio:9000, batchInterval: 60s, gzip: true }
  hooks:
    source: { type: webhook, port: 8088, path: /events }
    sink:   { type: topic, topic: events }
`;

/** The example with one line replaced (1-based), for the broken-config cases. */
function withLine(line: number, text: string): string {
  const lines = EXAMPLE.split('\n');
  lines[line - 1] = text;
  return lines.join('\n');
}

function problemsOf(text: string, env: Record<string, string> = {}) {
  const result = parseConfig(text, { env });
  if (result.ok) throw new Error('expected problems');
  return result.problems.map((problem) => ({ ...problem, path: problem.path.join('.') }));
}

describe('sidecar config', () => {
  it("parses the issue's example with defaults, durations in ms and sizes in bytes", () => {
    const result = parseConfig(EXAMPLE, { env: {} });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.connection.url).toBe('ws://127.0.0.1:8080');
    expect(config.http.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(config.publish.enabled).toBe(false);
    expect(config.shutdownTimeout).toBe(30_000);
    expect(config.pipelines.archive?.sink).toMatchObject({
      type: 's3',
      batchInterval: 60_000,
      batchBytes: 64 * 1024 * 1024,
      gzip: true,
    });
    expect(config.pipelines.hooks?.source).toMatchObject({ type: 'webhook', port: 8088, host: '127.0.0.1' });
  });

  it('JSON is read too', () => {
    const json = JSON.stringify({
      pipelines: {
        a: { source: { type: 'topic', topic: 't', subscription: 's' }, sink: { type: 'stdout' } },
      },
    });
    expect(parseConfig(json).ok).toBe(true);
  });

  it('reports an unknown key with its path and line', () => {
    const problems = problemsOf(withLine(12, '    sink:   { type: s3, bucket: logs, bukcet: x }'));
    expect(problems).toContainEqual({
      path: 'pipelines.archive.sink.bukcet',
      line: 12,
      message: 'unknown key',
    });
  });

  it('reports a wrong type with its path and line', () => {
    const problems = problemsOf(withLine(14, '    source: { type: webhook, port: eighty, path: /events }'));
    expect(problems).toContainEqual({
      path: 'pipelines.hooks.source.port',
      line: 14,
      message: 'expected number, got string "eighty"',
    });
  });

  it('reports a missing field as required, on the line of its parent', () => {
    const problems = problemsOf(withLine(12, '    sink:   { type: s3, endpoint: http://minio:9000 }'));
    expect(problems).toContainEqual({ path: 'pipelines.archive.sink.bucket', line: 12, message: 'required' });
    const result = parseConfig(withLine(12, '    sink:   { type: s3 }'));
    const text = formatProblems('sidecar.yaml', result.ok ? [] : result.problems);
    expect(text).toContain('sidecar.yaml:12: pipelines.archive.sink.bucket: required');
  });

  it('reports a bad URL', () => {
    const problems = problemsOf(withLine(2, '  url: http//broker:8080'));
    expect(problems).toContainEqual({
      path: 'connection.url',
      line: 2,
      message: 'expected a ws:// or wss:// URL, got "http//broker:8080"',
    });
  });

  it('reports a bad duration', () => {
    const problems = problemsOf(withLine(5, 'shutdownTimeout: 30 seconds'));
    expect(problems).toContainEqual({
      path: 'shutdownTimeout',
      line: 5,
      message: expect.stringMatching(/expected a duration such as .*, got "30 seconds"/) as string,
    });
  });

  it('reports an undefined ${VAR} once, and takes defined variables and defaults', () => {
    const problems = problemsOf(withLine(12, '    sink:   { type: s3, bucket: ${ARCHIVE_BUCKET} }'));
    expect(problems).toEqual([
      {
        path: 'pipelines.archive.sink.bucket',
        line: 12,
        message: '${ARCHIVE_BUCKET} is not set (give a default with ${ARCHIVE_BUCKET:value})',
      },
    ]);
    const result = parseConfig(withLine(12, '    sink:   { type: s3, bucket: ${ARCHIVE_BUCKET} }'), {
      env: { ARCHIVE_BUCKET: 'from-env', PORT: '9000' },
    });
    expect(result.ok && result.config.pipelines.archive?.sink).toMatchObject({ bucket: 'from-env' });
  });

  it('types a whole-value ${VAR} (port: ${PORT:8088} is a number); $$ is a literal $', () => {
    const text = withLine(
      14,
      '    source: { type: webhook, port: ${HOOK_PORT:8088}, path: /events, secret: "a$$b" }',
    );
    const result = parseConfig(text, { env: {} });
    expect(result.ok && result.config.pipelines.hooks?.source).toMatchObject({ port: 8088, secret: 'a$b' });
  });

  it('reports every problem at once, in line order, and YAML syntax errors with their line', () => {
    const broken = withLine(5, 'shutdownTimeout: soon').replace('bucket: logs', 'bucket: 7');
    const problems = problemsOf(broken);
    expect(problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['shutdownTimeout', 5],
      ['pipelines.archive.sink.bucket', 12],
    ]);
    const syntax = problemsOf('pipelines:\n  a: [1, 2\n');
    expect(syntax[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('precedence: defaults < file < env < flags', () => {
    const env = { PULSAR_WS_URL: 'ws://env:1', PULSAR_WS_SHUTDOWN_TIMEOUT: '5s' };
    const fromEnv = parseConfig(EXAMPLE, { env });
    expect(fromEnv.ok && fromEnv.config.connection.url).toBe('ws://env:1');
    expect(fromEnv.ok && fromEnv.config.shutdownTimeout).toBe(5000);
    const fromFlags = parseConfig(EXAMPLE, { env, flags: { url: 'ws://flag:2' } });
    expect(fromFlags.ok && fromFlags.config.connection.url).toBe('ws://flag:2');
    const bad = parseConfig(EXAMPLE, { env: { PULSAR_WS_URL: 'nope' } });
    expect(!bad.ok && bad.problems[0]?.message).toMatch(/from \$PULSAR_WS_URL/);
  });

  it('refuses a file source into an S3 sink, and dedup without a file source', () => {
    const problems = problemsOf(
      EXAMPLE.replace(
        'sink:   { type: topic, topic: app-log, dedup: true }',
        'sink: { type: s3, bucket: b }',
      ).replace(
        'sink:   { type: topic, topic: events }',
        'sink: { type: topic, topic: events, dedup: true }',
      ),
    );
    expect(problems.map((problem) => problem.path)).toEqual([
      'pipelines.app-log.sink.type',
      'pipelines.hooks.sink.dedup',
    ]);
  });

  it('receiverQueueSize: defaults to the pipe window, takes an integer >= 1 (a reader: up to 1000), reports the value', () => {
    const config = (source: string) =>
      `pipelines:\n  a:\n    source: ${source}\n    sink: { type: stdout }\n`;
    const window = (text: string) => {
      const result = parseConfig(text);
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      return (result.config.pipelines.a?.source as { receiverQueueSize?: number }).receiverQueueSize;
    };
    expect(window(config('{ type: topic, topic: t, subscription: s }'))).toBe(PIPE_RECEIVER_QUEUE_SIZE);
    expect(window(config('{ type: reader, topic: t }'))).toBe(PIPE_READER_QUEUE_SIZE);
    expect(window(config('{ type: topic, topic: t, subscription: s, receiverQueueSize: 5000 }'))).toBe(5000);
    expect(window(config('{ type: reader, topic: t, receiverQueueSize: 10 }'))).toBe(10);
    const bad: [string, string][] = [
      ['{ type: topic, topic: t, subscription: s, receiverQueueSize: 0 }', 'expected an integer >= 1, got 0'],
      [
        '{ type: topic, topic: t, subscription: s, receiverQueueSize: 2.5 }',
        'expected an integer >= 1, got 2.5',
      ],
      [
        '{ type: topic, topic: t, subscription: s, receiverQueueSize: lots }',
        'expected number, got string "lots"',
      ],
      ['{ type: reader, topic: t, receiverQueueSize: 1001 }', 'expected an integer from 1 to 1000, got 1001'],
    ];
    for (const [source, message] of bad) {
      expect(problemsOf(config(source))).toEqual([
        { path: 'pipelines.a.source.receiverQueueSize', line: 3, message },
      ]);
    }
  });
});

describe('durations and sizes', () => {
  it('parses what config files write', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('60')).toBeUndefined();
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('512')).toBe(512);
    expect(parseSize('12 parsecs')).toBeUndefined();
  });
});
