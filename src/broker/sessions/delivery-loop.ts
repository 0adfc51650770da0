/**
 * The flow control of Pulsar's WebSocket consumer and reader handlers, step for step (docs/protocol.md §4.4):
 * a receive loop sends a message, counts it in `pending`, and goes on while `pending < limit`.
 *
 * - Push mode: limit W = min(receiverQueueSize, 1000) (1 for 0). Every ack or nack frame decrements
 *   `pending` and restarts a stopped loop when the old value was >= W.
 * - Pull mode: limit 0. `permit N` subtracts N and starts the loop when the old value was >= 0, so a
 *   `permit 0` while idle still delivers one message (repaid by the next permit), as in Pulsar.
 */

export interface DeliveryLoopOptions<T> {
  readonly pullMode: boolean;
  /** W of docs/protocol.md §4.4 (push mode only). */
  readonly window: number;
  /** The next item to send, waiting as long as needed; null ends the loop for good. */
  readonly next: () => Promise<T | null>;
  /**
   * Sends one item; answers false when the connection is gone. A promise means the connection holds
   * too much unsent data: the loop waits for it before taking the next item.
   */
  readonly send: (item: T) => boolean | Promise<boolean>;
  readonly onError: (error: Error) => void;
}

export class DeliveryLoop<T> {
  private pending = 0;
  private running = false;
  private stopped = false;

  constructor(private readonly options: DeliveryLoopOptions<T>) {}

  private get limit(): number {
    return this.options.pullMode ? 0 : this.options.window;
  }

  /** Push mode starts delivering at connect; pull mode waits for the first permit. */
  start(): void {
    if (!this.options.pullMode) this.run();
  }

  /** An ack or nack frame (push mode flow control). */
  onAck(): void {
    if (this.options.pullMode) return;
    const old = this.pending--;
    if (old >= this.options.window) this.run();
  }

  /** A permit frame (pull mode flow control); ignored in push mode, as in Pulsar. */
  onPermit(permits: number): void {
    if (!this.options.pullMode) return;
    const old = this.pending;
    this.pending -= permits;
    if (old >= 0) this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  private run(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop()
      .catch((error: unknown) => this.options.onError(error as Error))
      .finally(() => (this.running = false));
  }

  private async loop(): Promise<void> {
    // Like Pulsar's receive loop, the first message is sent before the limit is checked.
    do {
      const item = await this.options.next();
      if (item === null || this.stopped) return;
      const sent = this.options.send(item);
      this.pending++;
      if (sent === false || (sent !== true && !(await sent))) return;
    } while (this.pending < this.limit && !this.stopped);
  }
}
