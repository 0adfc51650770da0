/**
 * Sidecar topic sources of several topics (`topics`) and of a pattern (`topicsPattern`): the config
 * takes exactly one of topic, topics and topicsPattern, and names a bad pattern; a sidecar moves
 * every message of the listed topics, and of the matching ones, to its file sink. The end-to-end part
 * runs against the embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/sidecar/config.js';
import { publishAll, range } from '../helpers/publish.js';
import { killSidecar, startSidecar, until, type SidecarProcess } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
let dir: string;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-sidecar-multi-'));
});
afterEach(async () => {
  for (const sidecar of running.splice(0)) await killSidecar(sidecar);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configWith(source: string): string {
  return `connection: { url: ws://127.0.0.1:1 }
pipelines:
  out:
    source: ${source}
    sink: { type: stdout }
`;
}

function problemsOf(text: string): { path: string; message: string }[] {
  const result = parseConfig(text, { env: {} });
  if (result.ok) throw new Error('expected problems');
  return result.problems.map((problem) => ({ path: problem.path.join('.'), message: problem.message }));
}

describe('sidecar topic source config', () => {
  it('takes topics or topicsPattern (with its discovery period)', () => {
    const topics = parseConfig(configWith('{ type: topic, topics: [a, b], subscription: s }'), { env: {} });
    expect(topics.ok && topics.config.pipelines.out?.source).toMatchObject({ topics: ['a', 'b'] });
    const pattern = parseConfig(
      configWith(
        "{ type: topic, topicsPattern: 'persistent://public/default/a-.*', patternAutoDiscoveryPeriod: 5s, subscription: s }",
      ),
      { env: {} },
    );
    expect(pattern.ok && pattern.config.pipelines.out?.source).toMatchObject({
      topicsPattern: 'persistent://public/default/a-.*',
      patternAutoDiscoveryPeriod: 5000,
    });
  });

  it('needs exactly one of topic, topics and topicsPattern, and names a bad pattern', () => {
    expect(problemsOf(configWith('{ type: topic, subscription: s }'))).toContainEqual(
      expect.objectContaining({ message: 'a topic source needs topic, topics or topicsPattern' }),
    );
    expect(problemsOf(configWith('{ type: topic, topic: a, topics: [b], subscription: s }'))).toContainEqual(
      expect.objectContaining({
        path: 'pipelines.out.source.topics',
        message: 'give one of topic, topics and topicsPattern, not topic and topics',
      }),
    );
    expect(problemsOf(configWith("{ type: topic, topicsPattern: 'a(', subscription: s }"))).toContainEqual(
      expect.objectContaining({
        path: 'pipelines.out.source.topicsPattern',
        message: expect.stringContaining('invalid topicsPattern "a("') as unknown as string,
      }),
    );
  });
});

describe('sidecar topic source of several topics', () => {
  it('topics and topicsPattern pipelines move every message of their topics to their files', async () => {
    const prefix = uniqueTopic('sidecar-multi');
    const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    await publishAll(target, a, range(100, 'a'));
    await publishAll(target, b, range(100, 'b'));
    await publishAll(target, c, range(100, 'c'));
    const listed = join(dir, `${prefix}-listed.txt`);
    const matched = join(dir, `${prefix}-matched.txt`);
    const config = join(dir, `${prefix}.yaml`);
    await writeFile(
      config,
      `connection: { url: ${target.wsUrl} }
http: { listen: 127.0.0.1:0 }
pipelines:
  listed:
    source: { type: topic, topics: [${a}, ${b}], subscription: listed }
    sink: { type: file, path: ${listed}, fsyncInterval: 100ms }
  matched:
    source: { type: topic, topicsPattern: 'persistent://public/default/${prefix}-.*', subscription: matched }
    sink: { type: file, path: ${matched}, fsyncInterval: 100ms }
`,
    );
    const sidecar = await startSidecar(config);
    running.push(sidecar);
    const lines = async (file: string) =>
      (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
    await until('every message in both files', async () => {
      const [inListed, inMatched] = [await lines(listed), await lines(matched)];
      return inListed.length >= 200 && inMatched.length >= 300;
    });
    expect((await lines(listed)).sort()).toEqual([...range(100, 'a'), ...range(100, 'b')].sort());
    expect((await lines(matched)).sort()).toEqual(
      [...range(100, 'a'), ...range(100, 'b'), ...range(100, 'c')].sort(),
    );
  }, 60_000);
});
