/**
 * The admin API's answers: JSON `{"reason": "..."}` with the status Pulsar gives each failure, and
 * the small request bodies it reads (tenant info, grants, policies), bounded in bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PermissionFileError } from './auth/index.js';
import { AlreadyExistsError, NamespaceNotFoundError, TenantNotFoundError } from './namespaces.js';
import { RetentionPolicyError } from './storage/retention.js';
import { PartitionedTopicExistsError, TopicInUseError, TopicNotFoundError } from './topics/topic-registry.js';

/** A request refused with an HTTP status and Pulsar's reason. */
export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The status Pulsar answers for `error`; 500 for anything unexpected (the caller logs those). */
export function statusOf(error: unknown): number {
  if (error instanceof AdminRequestError) return error.status;
  if (
    error instanceof TenantNotFoundError ||
    error instanceof TopicNotFoundError ||
    error instanceof NamespaceNotFoundError
  ) {
    return 404;
  }
  if (error instanceof TopicInUseError) return 412;
  if (error instanceof PartitionedTopicExistsError) return 409;
  if (error instanceof AlreadyExistsError) return 409;
  if (error instanceof PermissionFileError) return 400;
  if (error instanceof RetentionPolicyError) return 400;
  return 500;
}

/** Admin bodies are a few hundred bytes; anything much larger is refused (413) unread. */
const MAX_BODY_BYTES = 64 * 1024;

/** Reads a small request body (tenant info, grants); larger ones are refused. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminRequestError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Answers `body`: nothing, plain text, or JSON. */
export function send(response: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
  } else if (typeof body === 'string') {
    response.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
  } else {
    response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
}
