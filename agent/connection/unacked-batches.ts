/**
 * `requests` batches the operator has not acknowledged yet, in the order they were made. A batch leaves
 * only when the operator says it stored it (`ack`), so one lost to a restart, a dropped socket or a
 * failing store is sent again. Bounded by count and bytes (the oldest go first, counted):
 * the app's memory matters more than a complete profile.
 */
export class UnackedBatches {
  private readonly items = new Map<string, { session: string; seq: number; text: string }>();
  private bytes = 0;
  /** Batches dropped because the store was full. */
  dropped = 0;

  constructor(
    private readonly maxItems = 1000,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.items.size;
  }

  add(session: string, seq: number, text: string): void {
    const key = keyOf(session, seq);
    this.remove(session, seq);
    this.items.set(key, { session, seq, text });
    this.bytes += text.length;
    while (this.items.size > this.maxItems || (this.bytes > this.maxBytes && this.items.size > 1)) {
      const [oldest, item] = this.items.entries().next().value as [string, { text: string }];
      this.items.delete(oldest);
      this.bytes -= item.text.length;
      this.dropped++;
    }
  }

  /** The operator acknowledged the batch: forget it. */
  remove(session: string, seq: number): void {
    const key = keyOf(session, seq);
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    this.bytes -= item.text.length;
  }

  get(session: string, seq: number): string | undefined {
    return this.items.get(keyOf(session, seq))?.text;
  }

  /** Sessions with a batch still held. */
  sessions(): Set<string> {
    return new Set([...this.items.values()].map((i) => i.session));
  }

  /** Hands every held batch, oldest first, to `send` until it refuses one; `forget` drops each one sent. */
  resend(send: (text: string) => boolean, forget: boolean): void {
    for (const [key, item] of [...this.items]) {
      if (!send(item.text)) return;
      if (forget) {
        this.items.delete(key);
        this.bytes -= item.text.length;
      }
    }
  }
}

function keyOf(session: string, seq: number): string {
  return `${seq}\n${session}`;
}
