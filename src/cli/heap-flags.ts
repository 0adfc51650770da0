/**
 * Which V8 heap flags a `pulsar-ws` command runs with. Connector commands (one pipeline each) get a
 * small young generation and a capped old one: with V8's defaults a process moving 1 KB messages sits
 * at 250-300 MB RSS of garbage not collected yet, not of live data (docs/connectors-on-failure.md).
 * The embedded broker and the sidecar get no flags: they serve clients for days, and their memory is
 * bounded by design (docs/broker.md, "Memory"); a heap cap there would only turn growth into a crash.
 */

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

/** The flags a connector command gets, each with the name a user would set instead. */
export const CONNECTOR_HEAP_FLAGS: readonly { readonly name: string; readonly flag: string }[] = [
  { name: '--max-semi-space-size', flag: '--max-semi-space-size=4' },
  { name: '--max-old-space-size', flag: '--max-old-space-size=256' },
];

/** The command named on the command line: the first argument that is not an option. */
export function commandOf(args: readonly string[]): string | undefined {
  return args.find((arg) => !arg.startsWith('-'));
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
  const command = commandOf(args);
  if (command === undefined || !CONNECTOR_COMMANDS.has(command)) return [];
  // V8 takes `--max_old_space_size` as well as `--max-old-space-size`.
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((arg) => arg.replace(/_/g, '-'));
  const isGiven = (name: string): boolean => given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  return CONNECTOR_HEAP_FLAGS.filter(({ name }) => !isGiven(name)).map(({ flag }) => flag);
}
