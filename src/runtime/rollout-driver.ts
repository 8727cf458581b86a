/** Evaluates every unfinished rollout on a schedule; safe in many processes at once (transitions claim the rollout). */
export class RolloutDriver {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly evaluate: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly warn: (message: string, facts: Record<string, unknown>) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.running) return; // a slow evaluation (many runs to move) is not overlapped by the next
    this.running = true;
    try {
      await this.evaluate();
    } catch (error) {
      this.warn('evaluating rollouts failed; will retry', { error: String(error) });
    } finally {
      this.running = false;
    }
  }
}
