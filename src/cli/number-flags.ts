/**
 * Numeric flags given something that is not a number, or nothing. yargs turns `--count abc` into
 * NaN, so each command's own check could only say "got NaN", and `--count` alone into the default, so
 * the flag would be silently ignored; this runs first and names the flag and the text the user typed,
 * as every other refusal of the CLI does.
 */
import { CliError } from './cli-error.js';

/** What yargs knows of the declared options (the part of `getOptions()` used here). */
export interface DeclaredOptions {
  readonly number: readonly string[];
  readonly alias: Readonly<Record<string, readonly string[]>>;
}

/** A word yargs takes as the next flag rather than as a value (a negative number is a value). */
function isFlag(word: string): boolean {
  return word.startsWith('-') && Number.isNaN(Number(word));
}

/**
 * Each text given on the command line for `names` (a flag and its aliases), in order; undefined
 * where the flag is followed by no value.
 */
export function flagTexts(args: readonly string[], names: readonly string[]): (string | undefined)[] {
  const texts: (string | undefined)[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--') break;
    for (const name of names) {
      const flag = name.length === 1 ? `-${name}` : `--${name}`;
      if (arg === flag) {
        const next = args[index + 1];
        texts.push(next === undefined || isFlag(next) ? undefined : next);
      } else if (arg.startsWith(`${flag}=`)) {
        texts.push(arg.slice(flag.length + 1));
      }
    }
  }
  return texts;
}

/**
 * @throws CliError (exit 2) for the first numeric flag given without a value or with one that is not
 * a number, naming the flag and quoting what was given.
 */
export function rejectNonNumbers(
  argv: Readonly<Record<string, unknown>>,
  options: DeclaredOptions,
  args: readonly string[],
): void {
  for (const name of options.number) {
    const texts = flagTexts(args, [name, ...(options.alias[name] ?? [])]);
    if (texts.includes(undefined)) throw new CliError(`--${name} expects a number, got none`, 2);
    const values = argv[name];
    const parsed = Array.isArray(values) ? (values as unknown[]) : [values];
    if (parsed.some((value) => typeof value === 'number' && Number.isNaN(value))) {
      const given = texts.find((text) => Number.isNaN(Number(text))) ?? texts.at(-1) ?? '';
      throw new CliError(`--${name} expects a number, got ${JSON.stringify(given)}`, 2);
    }
  }
}
