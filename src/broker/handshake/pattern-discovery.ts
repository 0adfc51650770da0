/**
 * A pattern consumer's topic discovery: while it is connected, every persistent topic of its
 * namespace that comes into existence and matches its pattern is subscribed too, as Pulsar 4.0's
 * pattern consumer does when its broker announces a new topic.
 */
import { parseTopicName, type ConsumerParams } from '../../protocol/index.js';
import type { TopicConsumerSource } from '../sessions/sources.js';
import type { SubscriptionConsumer } from '../topics/subscription.js';
import type { Topic } from '../topics/topic.js';
import type { HandshakeContext } from './common.js';

export interface PatternSpec {
  /** `tenant/namespace` whose topics the pattern is matched against. */
  readonly namespace: string;
  readonly matcher: RegExp;
  readonly subscription: string;
  readonly params: ConsumerParams;
}

/** Starts watching for `source`'s consumer; stops when the consumer detaches. */
export function discoverTopics(
  spec: PatternSpec,
  source: TopicConsumerSource,
  consumer: SubscriptionConsumer,
  context: HandshakeContext,
): void {
  const logger = context.logger.child({ component: 'pattern-consumer', subscription: spec.subscription });
  let watching = true;
  const matches = (fullName: string): boolean =>
    fullName.startsWith(`persistent://${spec.namespace}/`) && spec.matcher.test(fullName);
  const join = async (fullName: string): Promise<void> => {
    // Held open (leased) from the lookup until the consumer is attached.
    const { result, release } = await context.topics.withLease(async () => {
      const topic = await context.topics.get(parseTopicName(fullName), false);
      const subscription =
        spec.params.subscriptionMode === 'NonDurable'
          ? await topic.nonDurableSubscription(spec.subscription, spec.params.subscriptionInitialPosition)
          : await topic.subscription(spec.subscription, spec.params.subscriptionInitialPosition);
      return { topic, subscription };
    });
    try {
      // Re-checked after the awaits: the consumer may have left, or another event added the topic.
      if (!watching || source.reads(fullName)) return;
      result.subscription.attach(consumer, spec.params.subscriptionType);
      source.addPart({ topic: result.topic, subscription: result.subscription, partition: -1 });
      logger.debug({ topic: fullName }, 'pattern consumer subscribed to a new topic');
    } finally {
      release();
    }
  };
  const consider = (fullName: string): void => {
    if (!watching || !matches(fullName) || source.reads(fullName)) return;
    join(fullName).catch((error: unknown) => {
      // The consumer keeps its other topics; this one is picked up if it is created again.
      logger.warn({ err: error, topic: fullName }, 'pattern consumer could not join a new topic');
    });
  };
  const onCreated = (topic: Topic): void => consider(topic.name.fullName);
  context.topics.on('created', onCreated);
  source.onDetach = () => {
    watching = false;
    context.topics.off('created', onCreated);
  };
  // Topics created between the handshake's listing and now.
  const [tenant = '', namespace = ''] = spec.namespace.split('/');
  void context.topics
    .list('persistent', `${tenant}/${namespace}`)
    .then((names) => names.forEach(consider))
    .catch((error: unknown) => logger.warn({ err: error }, 'pattern consumer could not list its namespace'));
}
