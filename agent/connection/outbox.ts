/**
 * Messages waiting for the operator while it is away: finished requests must survive a reconnect.
 * Bounded by count and bytes; when full the oldest go first (and are counted), because memory in the
 * app's process matters more than a complete profile.
 */
export class Outbox {
  private readonly items: string[] = [];
  private bytes = 0;
  /** Messages dropped because the outbox was full. */
  dropped = 0;

  constructor(
    private readonly maxItems = 1000,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.items.length;
  }

  push(text: string): void {
    this.items.push(text);
    this.bytes += text.length;
    while (this.items.length > this.maxItems || (this.bytes > this.maxBytes && this.items.length > 1)) {
      this.bytes -= this.items.shift()!.length;
      this.dropped++;
    }
  }

  /** Hands messages in order to `send` until it refuses one (the connection dropped again). */
  drain(send: (text: string) => boolean): void {
    while (this.items.length > 0) {
      if (!send(this.items[0]!)) return;
      this.bytes -= this.items.shift()!.length;
    }
  }
}
