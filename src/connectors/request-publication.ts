/**
 * Publishing one HTTP request's messages with bounded memory: they go to the producer one at a
 * time, each taking room in the request's window and in the process's (the webhook source's or the
 * publish endpoint's) and giving it back when the broker acknowledges it. The request is answered
 * once every message is acknowledged, with their ids (for up to `MAX_IDS_IN_ANSWER` messages; the
 * first and last beyond that, so the answer stays small whatever the body held). A request that
 * makes no progress (no room taken, nothing acknowledged) for `stallTimeoutMs` (checked once per
 * period, so between one and two periods) fails with 503.
 */
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { Tracked } from '../streams/tracked.js';
import { HttpRefusal } from './http-replies.js';
import { MessageWindow } from './message-window.js';
import type { RequestMessages } from './request-messages.js';

/** Requests of up to this many messages are answered with every id. */
export const MAX_IDS_IN_ANSWER = 1000;

/** What a 200 says: how many messages were stored, and their ids (or the first and last). */
export interface StoredMessages {
  readonly count: number;
  readonly messageIds?: string[];
  readonly firstMessageId?: string;
  readonly lastMessageId?: string;
}

export interface PublicationTarget {
  /** Hands a message over; false asks the caller to wait for `writable()` before the next. */
  write(message: Tracked<ProducerMessageObject>): boolean;
  /** Resolves when more may be written; rejects with `signal.reason` once it aborts. */
  writable(signal: AbortSignal): Promise<void>;
}

export interface PublicationLimits {
  /** Room shared by every request of the process. */
  readonly processWindow: MessageWindow;
  /** Messages of one request in flight at once. */
  readonly requestMessages: number;
  readonly stallTimeoutMs: number;
}

export class RequestPublication {
  private readonly requestWindow: MessageWindow;
  private readonly ids: string[] | undefined;
  private firstId = '';
  private lastId = '';
  private outstanding = 0;
  private acknowledged = 0;
  private abandoned = false;
  private readonly stopper = new AbortController();
  private stallTimer: NodeJS.Timeout | undefined;
  /** Counts the request's moves; the stall check compares it with what it saw last time. */
  private moves = 0;
  private movesSeen = -1;
  private allStored: (() => void) | undefined;
  /** True once `publish()` returned or threw: no more messages will be handed over. */
  private over = false;
  private markSettled: (() => void) | undefined;
  /**
   * Resolves once nothing of the request is in flight any more: every message handed over was
   * acknowledged, or the publication was abandoned. (After a 503, messages may still be in flight.)
   */
  readonly settled = new Promise<void>((resolve) => (this.markSettled = resolve));

  constructor(
    private readonly request: RequestMessages,
    private readonly limits: PublicationLimits,
  ) {
    this.requestWindow = new MessageWindow(limits.requestMessages, 'requestMessages');
    this.ids = request.count <= MAX_IDS_IN_ANSWER ? new Array<string>(request.count).fill('') : undefined;
  }

  /** Stops the publication: the request fails with `refusal` (what was handed over may still be stored). */
  fail(refusal: HttpRefusal): void {
    this.stopper.abort(refusal);
  }

  /**
   * The messages handed over are gone (their producer failed): their room is given back and their
   * acknowledgements, should any still come, are ignored.
   */
  abandon(refusal: HttpRefusal): void {
    this.fail(refusal);
    if (this.abandoned) return;
    this.abandoned = true;
    this.limits.processWindow.give(this.outstanding);
    this.outstanding = 0;
    this.markSettled?.();
  }

  /** Publishes every message; resolves once all are acknowledged. @throws HttpRefusal (503) on failure. */
  async publish(target: PublicationTarget): Promise<StoredMessages> {
    const { signal } = this.stopper;
    const stored = new Promise<void>((resolve) => (this.allStored = resolve));
    const failed = new Promise<never>((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
    );
    failed.catch(() => undefined);
    // One timer per request, not one per message: it fails the request when a whole period went by
    // without a move (so a stall is noticed between one and two periods after the last move).
    this.stallTimer = setInterval(() => this.checkStall(), this.limits.stallTimeoutMs);
    try {
      let index = 0;
      for (const message of this.request.messages()) {
        await this.takeRoom(signal);
        const at = index++;
        this.outstanding += 1;
        this.progressed();
        if (!target.write(new Tracked(message, (receipt) => this.onStored(at, receipt?.messageId ?? '')))) {
          await target.writable(signal);
        }
      }
      await Promise.race([stored, failed]);
    } finally {
      clearInterval(this.stallTimer);
      this.stopper.abort(new HttpRefusal(503, 'the request is over'));
      this.over = true;
      if (this.outstanding === 0) this.markSettled?.();
    }
    return this.ids === undefined
      ? { count: this.request.count, firstMessageId: this.firstId, lastMessageId: this.lastId }
      : { count: this.request.count, messageIds: this.ids };
  }

  /** Room for one message, in the request's window then in the process's. */
  private async takeRoom(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (!this.requestWindow.tryTake()) await this.requestWindow.take(signal);
    if (this.limits.processWindow.tryTake()) return;
    try {
      await this.limits.processWindow.take(signal);
    } catch (error) {
      this.requestWindow.give();
      throw error;
    }
  }

  private onStored(index: number, messageId: string): void {
    if (this.abandoned) return;
    this.outstanding -= 1;
    this.requestWindow.give();
    this.limits.processWindow.give();
    if (this.ids !== undefined) this.ids[index] = messageId;
    if (index === 0) this.firstId = messageId;
    if (index === this.request.count - 1) this.lastId = messageId;
    this.acknowledged += 1;
    this.progressed();
    if (this.over && this.outstanding === 0) this.markSettled?.();
    if (this.acknowledged === this.request.count) this.allStored?.();
  }

  /** The request moved (room taken, a message acknowledged). */
  private progressed(): void {
    this.moves += 1;
  }

  private checkStall(): void {
    if (this.moves !== this.movesSeen) {
      this.movesSeen = this.moves;
      return;
    }
    this.fail(
      new HttpRefusal(
        503,
        `the broker acknowledged nothing of this request for ${this.limits.stallTimeoutMs} ms or more`,
        5,
      ),
    );
  }
}
