/**
 * The sidecar's Prometheus metrics (prom-client, one registry per sidecar): process metrics plus,
 * labelled by `pipeline`, what each pipeline moved, its acknowledgements, errors, reconnects, what
 * is in flight and whether it is up.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export interface SidecarMetrics {
  readonly registry: Registry;
  readonly messagesIn: Counter<'pipeline'>;
  readonly messagesOut: Counter<'pipeline'>;
  readonly bytesIn: Counter<'pipeline'>;
  readonly bytesOut: Counter<'pipeline'>;
  readonly acks: Counter<'pipeline'>;
  readonly nacks: Counter<'pipeline'>;
  readonly sendErrors: Counter<'pipeline'>;
  readonly reconnects: Counter<'pipeline'>;
  readonly restarts: Counter<'pipeline'>;
  readonly inFlight: Gauge<'pipeline'>;
  readonly permitsOutstanding: Gauge<'pipeline'>;
  readonly lastProgress: Gauge<'pipeline'>;
  readonly up: Gauge<'pipeline'>;
  readonly s3Objects: Counter<'pipeline'>;
  readonly webhookRequests: Counter<'pipeline' | 'status'>;
  readonly publishRequests: Counter<'status'>;
}

/** Every metric the sidecar exports besides the process ones: name and help, for the docs' list. */
export const METRIC_HELP = {
  pulsar_ws_messages_in_total: 'Messages taken from the pipeline source',
  pulsar_ws_messages_out_total:
    'Messages durably written by the pipeline sink (acknowledged by the broker, fsynced, uploaded)',
  pulsar_ws_bytes_in_total: 'Payload bytes taken from the pipeline source',
  pulsar_ws_bytes_out_total: 'Payload bytes durably written by the pipeline sink',
  pulsar_ws_acks_total:
    'Acknowledgements: sent to the broker for consumed messages, and received from it for published ones',
  pulsar_ws_nacks_total: 'Negative acknowledgements sent for consumed messages the pipeline gave back',
  pulsar_ws_send_errors_total:
    'Failures of the pipeline (send errors, sink errors, refused connections); each one restarts it',
  pulsar_ws_reconnects_total:
    'Lost WebSocket connections of the pipeline (each is followed by a reconnect attempt)',
  pulsar_ws_restarts_total: 'Restarts of the pipeline after a failure',
  pulsar_ws_in_flight: 'Messages taken from the source and not yet written by the sink',
  pulsar_ws_permits_outstanding: 'Topic sources: messages asked of the broker (permits) and not yet received',
  pulsar_ws_last_progress_timestamp_seconds:
    'Unix time of the last message written by the sink (or of the start)',
  pulsar_ws_pipeline_up: '1 when the pipeline runs with every connection up, else 0',
  pulsar_ws_s3_objects_total: 'S3 sinks: objects uploaded',
  pulsar_ws_webhook_requests_total: 'Webhook sources: requests answered, by HTTP status',
  pulsar_ws_publish_requests_total: 'POST /publish: requests answered, by HTTP status (no pipeline label)',
} as const;

export function createMetrics(): SidecarMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: keyof typeof METRIC_HELP) =>
    new Counter({ name, help: METRIC_HELP[name], labelNames: ['pipeline'] as const, registers: [registry] });
  const gauge = (name: keyof typeof METRIC_HELP) =>
    new Gauge({ name, help: METRIC_HELP[name], labelNames: ['pipeline'] as const, registers: [registry] });
  return {
    registry,
    messagesIn: counter('pulsar_ws_messages_in_total'),
    messagesOut: counter('pulsar_ws_messages_out_total'),
    bytesIn: counter('pulsar_ws_bytes_in_total'),
    bytesOut: counter('pulsar_ws_bytes_out_total'),
    acks: counter('pulsar_ws_acks_total'),
    nacks: counter('pulsar_ws_nacks_total'),
    sendErrors: counter('pulsar_ws_send_errors_total'),
    reconnects: counter('pulsar_ws_reconnects_total'),
    restarts: counter('pulsar_ws_restarts_total'),
    inFlight: gauge('pulsar_ws_in_flight'),
    permitsOutstanding: gauge('pulsar_ws_permits_outstanding'),
    lastProgress: gauge('pulsar_ws_last_progress_timestamp_seconds'),
    up: gauge('pulsar_ws_pipeline_up'),
    s3Objects: counter('pulsar_ws_s3_objects_total'),
    webhookRequests: new Counter({
      name: 'pulsar_ws_webhook_requests_total',
      help: METRIC_HELP.pulsar_ws_webhook_requests_total,
      labelNames: ['pipeline', 'status'] as const,
      registers: [registry],
    }),
    publishRequests: new Counter({
      name: 'pulsar_ws_publish_requests_total',
      help: METRIC_HELP.pulsar_ws_publish_requests_total,
      labelNames: ['status'] as const,
      registers: [registry],
    }),
  };
}

/** The counters every pipeline has, labelled by `pipeline` alone. */
function pipelineCounters(metrics: SidecarMetrics): Counter<'pipeline'>[] {
  return [
    metrics.messagesIn,
    metrics.messagesOut,
    metrics.bytesIn,
    metrics.bytesOut,
    metrics.acks,
    metrics.nacks,
    metrics.sendErrors,
    metrics.reconnects,
    metrics.restarts,
  ];
}

/** Starts a pipeline's series at 0, so they exist before the first event (alerts see them). */
export function initPipelineMetrics(
  metrics: SidecarMetrics,
  pipeline: string,
  kinds: { s3: boolean; webhook: boolean },
): void {
  const labels = { pipeline };
  for (const metric of pipelineCounters(metrics)) metric.inc(labels, 0);
  metrics.inFlight.set(labels, 0);
  metrics.permitsOutstanding.set(labels, 0);
  metrics.up.set(labels, 0);
  metrics.lastProgress.set(labels, Date.now() / 1000);
  if (kinds.s3) metrics.s3Objects.inc(labels, 0);
  if (kinds.webhook) metrics.webhookRequests.inc({ pipeline, status: '200' }, 0);
}

/** Drops a removed pipeline's series (after a reload). */
export function removePipelineMetrics(metrics: SidecarMetrics, pipeline: string): void {
  for (const metric of [
    ...pipelineCounters(metrics),
    metrics.inFlight,
    metrics.permitsOutstanding,
    metrics.lastProgress,
    metrics.up,
    metrics.s3Objects,
  ])
    metric.remove({ pipeline });
  for (const status of ['200', '400', '401', '404', '405', '413', '429', '500', '503'])
    metrics.webhookRequests.remove({ pipeline, status });
}
