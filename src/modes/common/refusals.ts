/**
 * Recent refused handshakes, so the console page can say why: a browser shows a refused WebSocket only as
 * close code 1006, never the HTTP status, so the page asks again with a plain `GET path?why`.
 */
const KEEP_MS = 60_000;
const MAX_ENTRIES = 256;

export interface Refusal {
  status: number;
  message: string;
}

export class RecentRefusals {
  private readonly byClient = new Map<string, Refusal & { at: number }>();

  record(address: string, path: string, refusal: Refusal): void {
    const key = `${address} ${path}`;
    this.byClient.delete(key); // re-inserted last: the Map's order is the age order
    this.byClient.set(key, { ...refusal, at: Date.now() });
    if (this.byClient.size > MAX_ENTRIES) this.byClient.delete(this.byClient.keys().next().value!);
  }

  /** The last refusal of this client at this path, if recent. */
  find(address: string, path: string): Refusal | undefined {
    const found = this.byClient.get(`${address} ${path}`);
    if (!found || Date.now() - found.at > KEEP_MS) return undefined;
    return { status: found.status, message: found.message };
  }
}
