/** What a sidecar `topic` source consumes: its `topic`, its `topics`, or its `topicsPattern` (one of them; the schema checks that). */
import type { TopicSelection } from '../streams/topic-selection.js';
import type { SourceConfig } from './config-schema.js';

export function topicSelectionOf(source: Extract<SourceConfig, { type: 'topic' }>): TopicSelection {
  if (source.topicsPattern !== undefined) return { topicsPattern: source.topicsPattern };
  const [first, ...others] = source.topics ?? [];
  if (first !== undefined) return others.length === 0 ? first : [first, ...others];
  return source.topic ?? '';
}
