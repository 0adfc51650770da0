/**
 * One reader connection (docs/protocol.md §6): push delivery from a non-durable position. Any frame other than
 * `isEndOfTopic` is a flow-control credit, never an ack.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { decodeReaderCommand, pushWindowSize, type EndOfTopicResponse } from '../../protocol/index.js';
import type { DeliveryCrypto } from '../crypto/delivery-crypto.js';
import type { ReaderSource } from './sources.js';
import { deliveredFrame, socketDeliveryLoop } from './delivery.js';
import type { DeliveryLoop } from './delivery-loop.js';
import { dropConnection, sendText, textOf } from './socket.js';

export class ReaderSession {
  private readonly loop: DeliveryLoop<string>;

  constructor(
    private readonly ws: WebSocket,
    private readonly source: ReaderSource,
    receiverQueueSize: number,
    private readonly logger: Logger,
    /** Bytes the socket may hold unread before delivery waits (`maxOutboundBytesPerConnection`). */
    maxOutboundBytes: number,
    /** Decides what an encrypted message becomes; readers never get `encryptionContext`. */
    crypto?: DeliveryCrypto,
  ) {
    this.loop = socketDeliveryLoop(ws, logger, {
      pullMode: false,
      window: pushWindowSize(receiverQueueSize),
      maxOutboundBytes,
      next: async () => {
        for (;;) {
          const read = await source.next();
          if (read === null) return null;
          if (crypto === undefined) return deliveredFrame(read.entry, 0, read.partition);
          // A reader has nothing to acknowledge: FAIL and DISCARD both skip the message.
          const outcome = await crypto.outcome(read.entry.message);
          if (outcome.kind === 'deliver')
            return deliveredFrame(read.entry, 0, read.partition, outcome.message);
        }
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  handleFrame(frame: Buffer): void {
    const command = decodeReaderCommand(textOf(frame));
    if (command.type === 'isEndOfTopic') {
      const response: EndOfTopicResponse = { endOfTopic: this.source.atEndOfTopic };
      sendText(this.ws, JSON.stringify(response));
      return;
    }
    // Pulsar counts the frame even when it then drops the connection for bad JSON.
    this.loop.onAck();
    if (command.dropConnection) dropConnection(this.ws);
  }

  close(): void {
    this.loop.stop();
    this.source.close();
  }
}
