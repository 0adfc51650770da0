#!/usr/bin/env node
/**
 * The `pulsar-ws` bin. A plain `#!/usr/bin/env node` line (BusyBox's `env`, as on Alpine images, has
 * no `-S` to pass flags there), so the flags a command needs (see heap-flags.ts: a capped heap for
 * connector commands, a smaller young generation and paced collections for the broker) are given by
 * replacing this process with `node <flags> <this file>` (`process.execve`: same pid, so signals,
 * exit codes and `/proc/<pid>` stay the command's own). The sidecar runs here as it is.
 */
import { fileURLToPath } from 'node:url';
import { environmentFor, heapFlagsFor } from './heap-flags.js';

/** Set in the replaced process, so it never replaces itself again. */
const LAUNCHED = 'PULSAR_WS_HEAP_FLAGS_SET';

const args = process.argv.slice(2);
const flags =
  process.env[LAUNCHED] === undefined ? heapFlagsFor(args, process.execArgv, process.env.NODE_OPTIONS) : [];
if (flags.length > 0 && typeof process.execve === 'function') {
  const script = fileURLToPath(import.meta.url);
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, script, ...args], {
    ...process.env,
    ...environmentFor(args, process.env),
    [LAUNCHED]: '1',
  });
}
// Node before 22.15 has no execve: the command runs with V8's default heap sizes instead.
await import('./program.js');
