/**
 * The persistent topics a broker has open, and when to let them go. Each open topic holds file
 * descriptors (its segments, its subscriptions' ack journals) and a read cache, so:
 *
 * - a topic nobody has used for `idleTimeoutMillis` (no producer, consumer, reader, publish in flight
 *   or handshake holding it) is closed, as Pulsar unloads idle topics; the next use reopens it;
 * - at most `maxOpenTopics` topics stay open: past that, the least recently used unused ones close
 *   at once (an LRU of topic handles), so thousands of topics fit in `ulimit -n 1024`;
 * - every `retentionCheckIntervalMillis` each open topic trims what retention lets go.
 *
 * A handshake (or admin call) runs inside {@link withLease}: every topic it looks up is held open
 * until its producer, consumer or reader is attached, so a topic never closes under a connecting
 * client.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { releaseMemory } from './release-memory.js';
import type { Topic } from './topic.js';

export interface LoadedTopicsOptions {
  /** 0 keeps idle topics open. */
  readonly idleTimeoutMillis: number;
  readonly maxOpenTopics: number;
  readonly retentionCheckIntervalMillis: number;
  readonly logger: Logger;
}

interface Slot {
  readonly opening: Promise<Topic>;
  topic: Topic | undefined;
  lastUsed: number;
  /** Leases (handshakes, admin calls) that looked this topic up and are not finished. */
  holds: number;
}

/** Longest pause between idle sweeps, so a long idle timeout is still honoured promptly. */
const MAX_SWEEP_MILLIS = 10_000;

export class LoadedTopics {
  /** In least-recently-used-first order: a lookup moves its topic to the end. */
  private readonly slots = new Map<string, Slot>();
  /** Topics being closed; opening one again waits for its files to be released. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly leases = new AsyncLocalStorage<Set<Slot>>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: LoadedTopicsOptions) {
    const { idleTimeoutMillis, retentionCheckIntervalMillis } = options;
    if (idleTimeoutMillis > 0) {
      const period = Math.min(Math.max(idleTimeoutMillis / 2, 10), MAX_SWEEP_MILLIS);
      this.timers.push(setInterval(() => this.closeIdle(), period).unref());
    }
    if (retentionCheckIntervalMillis > 0) {
      this.timers.push(setInterval(() => this.trimAll(), retentionCheckIntervalMillis).unref());
    }
  }

  /** Runs `work`; topics it looks up stay open until `release` is called (also called on failure). */
  async withLease<T>(work: () => Promise<T>): Promise<{ result: T; release: () => void }> {
    const held = new Set<Slot>();
    const release = (): void => {
      for (const slot of held) slot.holds--;
      held.clear();
      this.enforceBound();
    };
    try {
      return { result: await this.leases.run(held, work), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The open topic, or `open()` it (after any close of the same topic has finished). */
  get(name: string, open: () => Promise<Topic>): Promise<Topic> {
    let slot = this.slots.get(name);
    if (slot !== undefined) {
      this.slots.delete(name);
      this.slots.set(name, slot);
    } else {
      const closing = this.closing.get(name) ?? Promise.resolve();
      const opening = closing.then(open);
      const created: Slot = { opening, topic: undefined, lastUsed: Date.now(), holds: 0 };
      slot = created;
      this.slots.set(name, created);
      opening.then(
        (topic) => {
          created.topic = topic;
          this.enforceBound();
        },
        // A failed open is not cached: the next lookup tries again. The caller handles the error.
        () => {
          if (this.slots.get(name) === created) this.slots.delete(name);
        },
      );
    }
    slot.lastUsed = Date.now();
    const lease = this.leases.getStore();
    if (lease !== undefined && !lease.has(slot)) {
      lease.add(slot);
      slot.holds++;
    }
    return slot.opening;
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Forgets a topic without closing it (the caller closes it, e.g. to delete it). */
  forget(name: string): void {
    this.slots.delete(name);
  }

  private unused(slot: Slot): slot is Slot & { topic: Topic } {
    return slot.topic !== undefined && slot.holds === 0 && !slot.topic.inUse;
  }

  private closeIdle(): void {
    const now = Date.now();
    let unloaded = 0;
    for (const [name, slot] of this.slots) {
      if (slot.topic?.inUse === true || slot.holds > 0) slot.lastUsed = now;
      else if (this.unused(slot) && now - slot.lastUsed >= this.options.idleTimeoutMillis) {
        this.unload(name, slot.topic, 'idle');
        unloaded++;
      }
    }
    // The last topics just went idle: once their files are closed, hand the memory they used back.
    if (unloaded > 0 && this.slots.size === 0) {
      void Promise.allSettled(this.closing.values()).then(() => {
        if (this.slots.size === 0) releaseMemory();
      });
    }
  }

  /** Closes least recently used unused topics while more than `maxOpenTopics` are open. */
  private enforceBound(): void {
    let excess = this.slots.size - this.options.maxOpenTopics;
    if (excess <= 0) return;
    for (const [name, slot] of this.slots) {
      if (excess <= 0) break;
      if (!this.unused(slot)) continue;
      this.unload(name, slot.topic, 'open-topic bound');
      excess--;
    }
  }

  private unload(name: string, topic: Topic, reason: string): void {
    this.slots.delete(name);
    const closed = topic
      .close()
      .catch((error: unknown) => {
        this.options.logger.error({ err: error, topic: name }, 'failed to close an unloaded topic');
      })
      .finally(() => {
        if (this.closing.get(name) === closed) this.closing.delete(name);
      });
    this.closing.set(name, closed);
    this.options.logger.debug({ topic: name, reason }, 'topic unloaded');
  }

  private trimAll(): void {
    for (const slot of this.slots.values()) void slot.topic?.trim();
  }

  /** Stops the timers, closes every open topic and waits for closes under way. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    const topics = await Promise.allSettled([...this.slots.values()].map((slot) => slot.opening));
    this.slots.clear();
    for (const result of topics) {
      if (result.status === 'fulfilled') await result.value.close();
    }
    await Promise.allSettled(this.closing.values());
  }
}
