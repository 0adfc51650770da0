/**
 * Every command's `--help` (built CLI, child processes): an example per command, no option listing
 * its choices twice, every option described; and `pulsar-ws completion` prints a working script.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';

const run = promisify(execFile);

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI_PATH, ...args], {
    env: { ...process.env, COLUMNS: '110' },
  });
  return stdout;
}

const COMMANDS = [
  'broker',
  'token',
  'token create',
  'token create-secret-key',
  'file-to-topic',
  'stdin-to-topic',
  'topic-to-file',
  'produce',
  'consume',
  'read',
  'webhook-to-topic',
  'topic-to-s3',
];

describe('pulsar-ws --help', () => {
  it('lists every command and the completion command', async () => {
    const help = await cli('--help');
    for (const command of [...COMMANDS.filter((name) => !name.startsWith('token ')), 'completion']) {
      expect(help).toContain(`pulsar-ws ${command}`);
    }
  });

  for (const command of COMMANDS) {
    it(`${command} --help has an example, no choice listed twice, every option described`, async () => {
      const help = await cli(...command.split(' '), '--help');
      expect(help).toMatch(new RegExp(`Examples:\\n\\s+.*pulsar-ws ${command}`));
      for (const [, list = ''] of help.matchAll(/\[choices: ([^\]]+)\]/g)) {
        const choices = list.split(', ');
        expect(choices, `${command}: [choices: ${list}]`).toEqual([...new Set(choices)]);
      }
      // An option line with nothing between its name and its [type] has no description.
      const undescribed = (help.split('Examples:')[0] ?? '')
        .split('\n')
        .filter((line) => /^\s+(-\w, )?--[\w-]+\s*$/.test(line) || /^\s+--[\w-]+\s{2,}\[/.test(line));
      expect(undescribed).toEqual([]);
    });
  }
});

describe('pulsar-ws completion', () => {
  it('prints a shell completion script', async () => {
    const script = await cli('completion');
    expect(script).toContain('pulsar-ws');
    expect(script).toMatch(/complete -o|compdef/);
  });

  it('the script completes command names', async () => {
    const words = (await cli('--get-yargs-completions', 'pulsar-ws', 'topic-')).split('\n');
    expect(words).toEqual(expect.arrayContaining(['topic-to-file', 'topic-to-s3']));
  });
});
