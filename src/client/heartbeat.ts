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
  /** One deadline per unanswered ping: with a timeout longer than the interval, several overlap. */
  private readonly deadlines = new Set<NodeJS.Timeout>();

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
    this.intervalTimer = undefined;
    for (const deadline of this.deadlines) clearTimeout(deadline);
    this.deadlines.clear();
  }

  /**
   * Every tick sends a ping with its own deadline, so the path is judged `timeoutMs` after the first
   * ping sent into the silence, whenever the silence began: within `intervalMs + timeoutMs`.
   */
  private beat(): void {
    const heardBefore = this.heardCount;
    this.ping();
    const deadline = setTimeout(() => {
      this.deadlines.delete(deadline);
      if (this.heardCount !== heardBefore) return;
      this.stop();
      this.onSilent();
    }, this.options.timeoutMs);
    this.deadlines.add(deadline);
  }
}
