/**
 * Which V8 flags a `pulsar-ws` command runs with (the bin re-executes itself with them, see main.ts).
 *
 * - Connector commands (one pipeline each) get a small young generation and a capped old one: with
 *   V8's defaults a process moving 1 KB messages sits at 250-300 MB RSS of garbage not collected yet,
 *   not of live data (docs/connectors-on-failure.md).
 * - The embedded broker gets no heap cap: it serves clients for days and its memory is bounded by
 *   design (docs/broker.md, "Memory"); a cap would only turn growth into a crash. It gets a young
 *   generation of 2 x 16 MiB (V8 grows it to 2 x 64 MiB on a large machine, memory a busy broker then
 *   keeps) and `--expose-gc`, with which it paces collections by the bytes producers send
 *   (src/broker/sessions/collection-pacing.ts).
 * - The sidecar gets nothing.
 */

/** A V8 flag, with the name a user would set instead. */
interface NodeFlag {
  readonly name: string;
  readonly flag: string;
}

/** Commands that run one bounded pipeline and end (or run until stopped) in their own process. */
const CONNECTOR_COMMANDS: ReadonlySet<string> = new Set([
  'file-to-topic',
  'stdin-to-topic',
  'topic-to-file',
  'topic-to-s3',
  'webhook-to-topic',
  'produce',
  'consume',
  'read',
]);

export const CONNECTOR_HEAP_FLAGS: readonly NodeFlag[] = [
  { name: '--max-semi-space-size', flag: '--max-semi-space-size=4' },
  { name: '--max-old-space-size', flag: '--max-old-space-size=256' },
];

export const BROKER_FLAGS: readonly NodeFlag[] = [
  { name: '--max-semi-space-size', flag: '--max-semi-space-size=16' },
  { name: '--expose-gc', flag: '--expose-gc' },
];

/** The command named on the command line: the first argument that is not an option. */
export function commandOf(args: readonly string[]): string | undefined {
  return args.find((arg) => !arg.startsWith('-'));
}

function flagsOf(command: string | undefined): readonly NodeFlag[] {
  if (command === 'broker') return BROKER_FLAGS;
  return command !== undefined && CONNECTOR_COMMANDS.has(command) ? CONNECTOR_HEAP_FLAGS : [];
}

/**
 * The Node flags to start `args` (the arguments after the script) with; empty when the command needs
 * none. A flag the user already gave Node (on its command line or in `NODE_OPTIONS`) is theirs: it
 * is never overridden.
 */
export function heapFlagsFor(
  args: readonly string[],
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  // V8 takes `--max_old_space_size` as well as `--max-old-space-size`.
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((arg) => arg.replace(/_/g, '-'));
  const isGiven = (name: string): boolean => given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  return flagsOf(commandOf(args))
    .filter(({ name }) => !isGiven(name))
    .map(({ flag }) => flag);
}

/**
 * Environment the broker starts with, unless the user set it: glibc's malloc serves allocations from
 * 64 KiB up (Node's socket read buffers, large messages) from their own mappings, returned to the
 * system when freed. By default it raises that threshold as large blocks are freed, after which such
 * buffers come from its heap, which fragments and keeps the broker's resident memory high long after
 * a burst (with it: 1 KB messages through a partitioned topic, +57 MB RSS instead of +123 MB). Other
 * C libraries ignore the variable.
 */
export function environmentFor(args: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  if (commandOf(args) !== 'broker' || env.MALLOC_MMAP_THRESHOLD_ !== undefined) return {};
  return { MALLOC_MMAP_THRESHOLD_: '65536' };
}
