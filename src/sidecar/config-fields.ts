/**
 * Field builders the sidecar's config schema is made of (config-schema.ts and the sections split
 * from it): durations and sizes given as strings (`60s`, `64MiB`) and parsed to milliseconds and
 * bytes, URLs, ports, listen addresses, topic names, and the bounds the webhook source and
 * `/publish` share. A description ending in `(duration)` or `(size)` tells the generated reference
 * (config-reference.ts) the type to show.
 */
import * as z from 'zod';
import { WEBHOOK_DEFAULTS } from '../connectors/http-webhook.js';
import { parseTopicName, TopicNameError } from '../protocol/index.js';
import { DURATION_HINT, parseDuration, parseSize, SIZE_HINT } from './units.js';

/** A duration string, parsed to milliseconds. */
export function duration(description: string) {
  // Numbers are taken in so that `60` gets the duration hint (a unit is needed) rather than a type error.
  return z
    .union([z.string(), z.number()])
    .describe(`${description} (duration)`)
    .transform((text, context) => {
      const ms = typeof text === 'string' ? parseDuration(text) : undefined;
      if (ms === undefined) {
        context.addIssue({
          code: 'custom',
          message: `expected ${DURATION_HINT}, got ${JSON.stringify(text)}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

/** A size: a number of bytes or a string with a unit, parsed to bytes (> 0). */
export function size(description: string) {
  return z
    .union([z.number(), z.string()])
    .describe(`${description} (size)`)
    .transform((value, context) => {
      const bytes = typeof value === 'number' ? value : parseSize(value);
      if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
        context.addIssue({ code: 'custom', message: `expected ${SIZE_HINT}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return bytes;
    });
}

export function url(description: string, protocols: readonly string[]) {
  return z
    .string()
    .describe(description)
    .refine(
      (text) => {
        try {
          return protocols.includes(new URL(text).protocol);
        } catch {
          return false;
        }
      },
      {
        error: (issue) =>
          `expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got ${JSON.stringify(issue.input)}`,
      },
    );
}

export const positiveInt = (description: string) => z.number().int().positive().describe(description);

/**
 * A consumer's permit window or a reader's `receiverQueueSize`: an integer from 1 (to `max`), the
 * error naming the value.
 */
export function receiverQueueSize(max: number | undefined, fallback: number) {
  const range = max === undefined ? '>= 1' : `from 1 to ${max}`;
  const error = (issue: { readonly input: unknown }) =>
    `expected an integer ${range}, got ${JSON.stringify(issue.input)}`;
  const atLeastOne = z.number().int({ error }).min(1, { error });
  return (max === undefined ? atLeastOne : atLeastOne.max(max, { error }))
    .default(fallback)
    .describe(
      `Messages buffered plus asked of the broker (the window that keeps the pipe full${max === undefined ? '' : `; at most ${max}`}); holds up to this many messages in memory`,
    );
}

/** A topic name Pulsar accepts (short or full). */
export const topicName = z.string().superRefine((text, context) => {
  try {
    parseTopicName(text);
  } catch (error) {
    if (!(error instanceof TopicNameError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});

export const port = (description: string) => z.number().int().min(0).max(65_535).describe(description);

/** `host:port` (or `[v6]:port`) to listen on. */
export const listenAddress = (description: string) =>
  z
    .string()
    .describe(description)
    .transform((text, context) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
      const portNumber = Number(match?.[2]);
      if (match === null || !(portNumber >= 0 && portNumber <= 65_535)) {
        context.addIssue({ code: 'custom', message: `expected host:port, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: portNumber };
    });

/**
 * The bounds of an HTTP intake that publishes request bodies (a webhook source, `/publish`): the
 * body's size and the time it may take to arrive, and the messages in flight per request and in all.
 */
export const httpIntakeBounds = {
  maxBodyBytes: size('Bodies larger than this get 413').prefault('1MiB'),
  bodyTimeout: duration(
    'A body not arrived whole this long after its request is handled gets 408 (the connection closes)',
  ).prefault(`${WEBHOOK_DEFAULTS.bodyTimeoutMs / 1000}s`),
  maxMessagesInFlight: positiveInt(
    'Messages of all requests handed to a producer and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxMessagesInFlight),
  maxRequestMessagesInFlight: positiveInt(
    'Messages of one request handed to a producer and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxRequestMessagesInFlight),
};
