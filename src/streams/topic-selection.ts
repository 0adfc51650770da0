/**
 * What a consumer consumes: one topic, a list of topics, or the topics matching a pattern
 * (`{ topicsPattern }`), and the names a message's topic is given (a partition's own name when the
 * topic is partitioned).
 *
 * Patterns follow Pulsar's pattern consumer: the pattern's namespace is read from the pattern as a
 * topic name (`persistent://tenant/namespace/<regex>`; a short pattern such as `orders-.*` is in
 * `public/default`), and the regular expression must match the whole `tenant/namespace/local` name
 * of a topic (a partitioned topic by its base name, not its partitions). Only persistent topics are
 * matched (Pulsar's default regex subscription mode). The expression is a JavaScript one: Java-only
 * syntax (possessive quantifiers, `\p{javaLowerCase}`, ...) is refused as invalid.
 */
import { InvalidArgumentError } from '../errors.js';
import { parseTopicName, TopicNameError, type TopicName } from '../protocol/index.js';

/** A topic, a list of topics, or the topics of a namespace that match `topicsPattern`. */
export type TopicSelection = string | readonly string[] | { readonly topicsPattern: string };

export interface TopicPattern {
  /** The pattern as given. */
  readonly source: string;
  /** `tenant/namespace` whose topics are matched. */
  readonly namespace: string;
  /** Matches the whole `tenant/namespace/local` name (no scheme) of a base topic. */
  readonly matcher: RegExp;
}

export type ResolvedSelection =
  | { readonly kind: 'topics'; readonly topics: readonly TopicName[] }
  | { readonly kind: 'pattern'; readonly pattern: TopicPattern };

/**
 * Topics one consumer stream may hold, at most: each is a WebSocket session of its own (and a
 * position in an exactly-once file sink's state).
 */
export const MAX_CONSUMER_TOPICS = 1000;

const PARTITION_SUFFIX = /-partition-\d+$/;

function topicNameFor(what: string, input: string): TopicName {
  try {
    return parseTopicName(input);
  } catch (error) {
    if (error instanceof TopicNameError) {
      throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(input)}: ${error.message}`);
    }
    throw error;
  }
}

/** @throws InvalidArgumentError naming the pattern when it is not a persistent topic pattern or not a valid regular expression. */
export function parseTopicPattern(source: string): TopicPattern {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new InvalidArgumentError(
      `expected \`topicsPattern\` to be a non-empty string, got ${JSON.stringify(source)}`,
    );
  }
  const name = topicNameFor('topicsPattern', source);
  if (name.cluster !== undefined) {
    throw new InvalidArgumentError(
      `invalid topicsPattern ${JSON.stringify(source)}: expected persistent://<tenant>/<namespace>/<regex> (or a regex of local names in public/default)`,
    );
  }
  if (name.domain !== 'persistent') {
    throw new InvalidArgumentError(
      `invalid topicsPattern ${JSON.stringify(source)}: patterns match persistent topics only`,
    );
  }
  const namespace = `${name.tenant}/${name.namespace}`;
  let matcher: RegExp;
  try {
    matcher = new RegExp(`^(?:${namespace}/${name.localName})$`);
  } catch (error) {
    throw new InvalidArgumentError(
      `invalid topicsPattern ${JSON.stringify(source)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { source, namespace, matcher };
}

/**
 * Checks and resolves a selection. A list of one topic is that topic.
 * @throws InvalidArgumentError naming the offending topic or pattern.
 */
export function resolveTopicSelection(selection: TopicSelection): ResolvedSelection {
  if (typeof selection === 'string') {
    if (selection === '') throw new InvalidArgumentError('expected `topic` to be a non-empty string, got ""');
    return { kind: 'topics', topics: [topicNameFor('topic', selection)] };
  }
  if (Array.isArray(selection)) {
    const list: readonly unknown[] = selection;
    if (list.length === 0) throw new InvalidArgumentError('expected at least one topic, got an empty list');
    if (list.length > MAX_CONSUMER_TOPICS) {
      throw new InvalidArgumentError(
        `expected at most ${MAX_CONSUMER_TOPICS} topics in one consumer, got ${list.length}`,
      );
    }
    const seen = new Set<string>();
    const topics = list.map((topic) => {
      if (typeof topic !== 'string' || topic === '') {
        throw new InvalidArgumentError(
          `expected each topic to be a non-empty string, got ${JSON.stringify(topic)}`,
        );
      }
      const name = topicNameFor('topic', topic);
      if (seen.has(name.fullName)) throw new InvalidArgumentError(`topic ${name.fullName} is listed twice`);
      seen.add(name.fullName);
      return name;
    });
    return { kind: 'topics', topics };
  }
  if (typeof selection === 'object' && selection !== null && 'topicsPattern' in selection) {
    return { kind: 'pattern', pattern: parseTopicPattern(selection.topicsPattern) };
  }
  throw new InvalidArgumentError(
    `expected a topic, a list of topics or { topicsPattern }, got ${JSON.stringify(selection)}`,
  );
}

/** The partitioned topic a partition's name belongs to (`…/t-partition-2` → `…/t`); other names unchanged. */
export function baseTopicOf(topic: string): string {
  return topic.replace(PARTITION_SUFFIX, '');
}

/** The name of the topic a message came from: `topic` itself, or its partition `partition` (>= 0). */
export function messageTopicOf(topic: string, partition: number): string {
  return partition < 0 || PARTITION_SUFFIX.test(topic) ? topic : `${topic}-partition-${partition}`;
}

/**
 * The topics (full base names, sorted) of a namespace listing that `pattern` matches: partitions
 * count as their partitioned topic.
 */
export function matchingTopics(
  pattern: TopicPattern,
  listing: { readonly topics: readonly string[]; readonly partitioned: readonly string[] },
): string[] {
  const bases = new Set<string>();
  for (const name of [...listing.topics, ...listing.partitioned]) {
    const base = baseTopicOf(name);
    const schemeEnd = base.indexOf('://');
    if (!base.startsWith('persistent://')) continue;
    if (pattern.matcher.test(base.slice(schemeEnd + 3))) bases.add(base);
  }
  return [...bases].sort();
}
