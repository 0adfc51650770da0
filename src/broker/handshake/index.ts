/**
 * Validates a WebSocket upgrade and prepares its session before the `101` is sent, failing with the
 * HTTP statuses Pulsar uses (docs/protocol.md §2, §8.1). A prepared session holds its claims (producer name,
 * consumer slots) until it is attached to a socket or abandoned.
 */
import type { IncomingMessage } from 'node:http';
import { EndpointPathError, parseEndpointPath, type EndpointPath } from '../../protocol/index.js';
import { authenticate, HandshakeError, type HandshakeContext, type PreparedSession } from './common.js';
import { prepareConsumer, prepareMultiTopicConsumer } from './consumer.js';
import { prepareProducer } from './producer.js';
import { prepareReader } from './reader.js';

export { HandshakeError, type HandshakeContext, type PreparedSession, type Session } from './common.js';

export async function prepareSession(
  request: IncomingMessage,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const rawUrl = request.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
  // Like the broker's HTTP authentication filter, authentication comes before anything else.
  const role = await authenticate(request, query, context);
  if (rawPath.startsWith('/ws/v3/')) return prepareMultiTopicConsumer(rawPath, query, role, context);
  let endpoint: EndpointPath;
  try {
    endpoint = parseEndpointPath(rawPath);
  } catch (error) {
    if (error instanceof EndpointPathError) throw new HandshakeError(error.status, error.message);
    throw error;
  }
  const session = { endpoint, query, role };
  switch (endpoint.kind) {
    case 'producer':
      return prepareProducer(session, context);
    case 'consumer':
      return prepareConsumer(session, context);
    case 'reader':
      return prepareReader(session, context);
  }
}
