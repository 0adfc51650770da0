/**
 * Liveness of one connection. A path that goes silent (a NAT or load balancer that dropped its state,
 * a frozen peer) closes nothing: no FIN, no RST, writes still succeed into the kernel buffer. The only
 * sign is that nothing comes back. So the heartbeat pings every `intervalMs` and, when neither a pong
 * nor any other frame arrived within `timeoutMs` of a ping, reports the connection silent; the session
 * then terminates the socket and treats the connection as lost.
 *
 * Worst case, a silent path is noticed `intervalMs + timeoutMs` after the last frame heard.
 */
export interface HeartbeatOptions {
  /** Time between pings, in ms; 0 disables the heartbeat. */
  readonly intervalMs: number;
  /** Time a ping may go unanswered (no pong, no frame), in ms. */
  readonly timeoutMs: number;
}

export class Heartbeat {
  private heardCount = 0;
  private intervalTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly ping: () => void,
    private readonly onSilent: () => void,
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.intervalTimer = setInterval(() => this.beat(), this.options.intervalMs);
  }

  /** Anything from the peer (a frame, a pong, a ping) proves the path alive. Cheap: called per frame. */
  heard(): void {
    this.heardCount++;
  }

  stop(): void {
    clearInterval(this.intervalTimer);
    clearTimeout(this.deadlineTimer);
    this.intervalTimer = undefined;
    this.deadlineTimer = undefined;
  }

  private beat(): void {
    // One ping awaits its answer at a time; its deadline timer decides.
    if (this.deadlineTimer !== undefined) return;
    const heardBefore = this.heardCount;
    this.ping();
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.heardCount === heardBefore) {
        this.stop();
        this.onSilent();
      }
    }, this.options.timeoutMs);
  }
}
