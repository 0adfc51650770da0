/**
 * Runs every pipeline side by side, each isolated in its own run: one that fails is restarted with
 * exponential backoff while the others go on. Reports each pipeline's state for readiness and the
 * metrics, drains them all (or one, on a reload) within a deadline, and applies a reloaded config
 * by restarting only the pipelines that changed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { PulsarWsClientOptions } from '../index.js';
import type { PipelineConfig } from './config-schema.js';
import { initPipelineMetrics, removePipelineMetrics, type SidecarMetrics } from './metrics.js';
import { PipelineRun } from './pipeline-run.js';

export type PipelineState =
  'connecting' | 'connected' | 'reconnecting' | 'stalled' | 'failed' | 'draining' | 'completed' | 'stopped';

export interface PipelineStatus {
  readonly state: PipelineState;
  readonly reason?: string;
  readonly restarts: number;
  readonly inFlight: number;
}

/** States in which a pipeline counts as ready: connected and moving or idle, or done. */
const READY_STATES: readonly PipelineState[] = ['connected', 'completed'];

export interface SupervisorOptions {
  readonly client: Omit<PulsarWsClientOptions, 'logger'>;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly restart: { readonly initialDelay: number; readonly maxDelay: number };
  readonly stallTimeout: number;
}

interface Slot {
  readonly name: string;
  readonly config: PipelineConfig;
  run: PipelineRun | undefined;
  /** Failures in a row (reset by a run that lasted longer than the longest backoff). */
  failures: number;
  restarts: number;
  lastError: string | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  retryAt: number | undefined;
  completed: boolean;
  stopping: boolean;
  /** Readers resume after the last message written. */
  readerStart: string | undefined;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private options: SupervisorOptions;

  constructor(options: SupervisorOptions) {
    this.options = options;
  }

  /** Starts `pipelines` (by name). */
  start(pipelines: Readonly<Record<string, PipelineConfig>>): void {
    for (const [name, config] of Object.entries(pipelines)) this.add(name, config);
  }

  private add(name: string, config: PipelineConfig, readerStart?: string): void {
    const slot: Slot = {
      name,
      config,
      run: undefined,
      failures: 0,
      restarts: 0,
      lastError: undefined,
      retryTimer: undefined,
      retryAt: undefined,
      completed: false,
      stopping: false,
      readerStart,
    };
    this.slots.set(name, slot);
    initPipelineMetrics(this.options.metrics, name, {
      s3: config.sink.type === 's3',
      webhook: config.source.type === 'webhook',
    });
    this.launch(slot);
  }

  private launch(slot: Slot): void {
    const { metrics, logger } = this.options;
    const pipelineLogger = logger.child({ pipeline: slot.name });
    const run = new PipelineRun({
      name: slot.name,
      config: slot.config,
      client: this.options.client,
      metrics,
      logger: pipelineLogger,
      ...(slot.readerStart === undefined ? {} : { readerStart: slot.readerStart }),
    });
    slot.run = run;
    slot.retryTimer = undefined;
    slot.retryAt = undefined;
    pipelineLogger.info({ restarts: slot.restarts }, 'pipeline started');
    run.done.then(
      () => {
        slot.run = undefined;
        slot.readerStart = run.lastWrittenId ?? slot.readerStart;
        if (slot.stopping) return;
        slot.completed = true;
        pipelineLogger.info('pipeline completed: its source ended');
      },
      (error: unknown) => {
        slot.run = undefined;
        slot.readerStart = run.lastWrittenId ?? slot.readerStart;
        metrics.inFlight.set({ pipeline: slot.name }, 0);
        if (slot.stopping) return;
        metrics.sendErrors.inc({ pipeline: slot.name });
        const { initialDelay, maxDelay } = this.options.restart;
        slot.failures = Date.now() - run.startedAt > maxDelay ? 1 : slot.failures + 1;
        const delay = Math.min(maxDelay, initialDelay * 2 ** Math.min(slot.failures - 1, 30));
        slot.lastError = (error as Error).message;
        slot.retryAt = Date.now() + delay;
        pipelineLogger.error(
          { err: error, retryInMs: delay, failures: slot.failures },
          'pipeline failed; restarting after backoff',
        );
        slot.retryTimer = setTimeout(() => {
          slot.restarts += 1;
          metrics.restarts.inc({ pipeline: slot.name });
          this.launch(slot);
        }, delay);
      },
    );
  }

  private statusOf(slot: Slot): PipelineStatus {
    const base = { restarts: slot.restarts, inFlight: slot.run?.inFlight ?? 0 };
    const run = slot.run;
    if (run === undefined) {
      if (slot.retryAt !== undefined) {
        const seconds = Math.max(0, Math.ceil((slot.retryAt - Date.now()) / 1000));
        return {
          ...base,
          state: 'failed',
          reason: `${slot.lastError ?? 'failed'}; restart ${slot.restarts + 1} in ${seconds}s`,
        };
      }
      return { ...base, state: slot.completed ? 'completed' : 'stopped' };
    }
    if (slot.stopping) return { ...base, state: 'draining', reason: 'shutting down' };
    const connection = run.connection;
    if (connection !== 'connected') {
      return {
        ...base,
        state: connection,
        ...(run.connectionError === undefined ? {} : { reason: run.connectionError }),
      };
    }
    const idleFor = Date.now() - run.lastProgress;
    if (run.inFlight > 0 && idleFor > this.options.stallTimeout) {
      return {
        ...base,
        state: 'stalled',
        reason: `${run.inFlight} messages in flight and none written for ${Math.round(idleFor / 1000)}s`,
      };
    }
    return { ...base, state: 'connected' };
  }

  /** Every pipeline's status, by name. */
  status(): Record<string, PipelineStatus> {
    return Object.fromEntries([...this.slots.values()].map((slot) => [slot.name, this.statusOf(slot)]));
  }

  /** Ready when every pipeline is; `notReady` names each one that is not, with its state and reason. */
  readiness(): { ready: boolean; notReady: Record<string, PipelineStatus> } {
    const notReady = Object.fromEntries(
      Object.entries(this.status()).filter(([, status]) => !READY_STATES.includes(status.state)),
    );
    return { ready: Object.keys(notReady).length === 0, notReady };
  }

  /** Brings the gauges that are read rather than counted up to date (before a scrape). */
  refreshGauges(): void {
    const { metrics } = this.options;
    for (const slot of this.slots.values()) {
      const labels = { pipeline: slot.name };
      metrics.up.set(labels, this.statusOf(slot).state === 'connected' ? 1 : 0);
      metrics.permitsOutstanding.set(labels, slot.run?.permitsOutstanding ?? 0);
    }
  }

  /**
   * Drains the named pipelines (all by default) within `timeoutMs`: intake stops, what was taken is
   * written and acknowledged, runs end. At the deadline the rest is torn down unacknowledged.
   * @returns whether the deadline cut work.
   */
  async drain(
    timeoutMs: number,
    names: readonly string[] = [...this.slots.keys()],
  ): Promise<{ timedOut: boolean }> {
    const runs: Promise<unknown>[] = [];
    const slots = names.map((name) => this.slots.get(name)).filter((slot) => slot !== undefined);
    for (const slot of slots) {
      slot.stopping = true;
      clearTimeout(slot.retryTimer);
      slot.retryTimer = undefined;
      slot.retryAt = undefined;
      if (slot.run === undefined) continue;
      slot.run.stopIntake();
      // Settled either way: a run that fails while draining has logged nothing yet, so say it here.
      runs.push(
        slot.run.done.catch((error: unknown) =>
          this.options.logger.error({ pipeline: slot.name, err: error }, 'pipeline failed while draining'),
        ),
      );
    }
    const all = Promise.all(runs);
    // Teardown needs a moment too (sockets close): leave it a tenth of the time, at most a second.
    const margin = Math.min(1000, timeoutMs / 10);
    const drained = await Promise.race([all.then(() => true), sleep(timeoutMs - margin).then(() => false)]);
    if (drained) return { timedOut: false };
    this.options.logger.warn(
      { timeoutMs },
      'shutdown timeout: what is left is not acknowledged and will be redelivered',
    );
    for (const slot of slots) slot.run?.abort();
    await Promise.race([all, sleep(margin)]);
    return { timedOut: true };
  }

  /**
   * Applies a reloaded config: removed pipelines drain and go, changed ones (or all, when the
   * connection changed) drain and start again, new ones start, the others keep running.
   */
  async reload(
    pipelines: Readonly<Record<string, PipelineConfig>>,
    options: SupervisorOptions,
    drainTimeoutMs: number,
  ): Promise<{ added: string[]; removed: string[]; restarted: string[] }> {
    const connectionChanged = JSON.stringify(options.client) !== JSON.stringify(this.options.client);
    this.options = options;
    const removed = [...this.slots.keys()].filter((name) => !(name in pipelines));
    const restarted = [...this.slots.entries()]
      .filter(([name, slot]) => {
        const next = pipelines[name];
        return (
          next !== undefined && (connectionChanged || JSON.stringify(next) !== JSON.stringify(slot.config))
        );
      })
      .map(([name]) => name);
    const added = Object.keys(pipelines).filter((name) => !this.slots.has(name));
    await this.drain(drainTimeoutMs, [...removed, ...restarted]);
    for (const name of removed) {
      this.slots.delete(name);
      removePipelineMetrics(this.options.metrics, name);
    }
    for (const name of restarted) {
      const previous = this.slots.get(name);
      this.slots.delete(name);
      const config = pipelines[name];
      if (config === undefined) continue;
      // A changed reader keeps its place only when its source did not change.
      const sameSource = JSON.stringify(previous?.config.source) === JSON.stringify(config.source);
      this.add(name, config, sameSource ? previous?.readerStart : undefined);
    }
    for (const name of added) {
      const config = pipelines[name];
      if (config !== undefined) this.add(name, config);
    }
    return { added, removed, restarted };
  }
}
