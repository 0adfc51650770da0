/**
 * `npm run demo`: starts the embedded broker in-process on a free port, sends examples/data/ through
 * `pulsar-ws file-to-topic`, reads it back with `pulsar-ws topic-to-file`, and prints both checksums.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EmbeddedBroker } from '../src/broker/index.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const DATA = fileURLToPath(new URL('../examples/data/', import.meta.url));

const work = await mkdtemp(join(tmpdir(), 'pulsar-ws-demo-'));
const broker = await EmbeddedBroker.start({ dataDir: join(work, 'broker'), port: 0 });
try {
  const files = (await readdir(DATA)).sort().map((name) => join(DATA, name));
  const input = Buffer.concat(await Promise.all(files.map((file) => readFile(file))));
  const lines = input.toString().split('\n').length - 1;
  const common = ['--url', broker.url, '--log-level', 'warn'];
  console.log(`embedded broker at ${broker.url}`);
  const sent = await run(process.execPath, [
    CLI,
    'file-to-topic',
    '--file',
    ...files,
    '--topic',
    'demo',
    ...common,
  ]);
  process.stdout.write(`file-to-topic: ${sent.stdout}`);
  const output = join(work, 'out.txt');
  const received = await run(process.execPath, [
    CLI,
    'topic-to-file',
    '--topic',
    'demo',
    '--subscription',
    'demo',
    '--file',
    output,
    '--count',
    String(lines),
    ...common,
  ]);
  process.stdout.write(`topic-to-file: ${received.stdout}`);
  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
  const inputSum = sha(input);
  const outputSum = sha(await readFile(output));
  console.log(`sha256 of examples/data/: ${inputSum}`);
  console.log(`sha256 of the file read back: ${outputSum}`);
  console.log(inputSum === outputSum ? 'identical' : 'DIFFERENT');
  if (inputSum !== outputSum) process.exitCode = 1;
} finally {
  await broker.stop();
  await rm(work, { recursive: true, force: true });
}
