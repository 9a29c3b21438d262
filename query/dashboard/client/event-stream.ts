/**
 * The `text/event-stream` format of the HTML standard, parsed incrementally: `event`, `data`
 * (several lines joined by newlines), `id` (kept across events), `retry`, comment lines (`:`)
 * ignored, lines ending in LF, CRLF or CR, split anywhere across chunks. Pure: no I/O, so it runs
 * in the browser and in unit tests alike.
 */

/** One dispatched event. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** Splits an event stream into events; feed it decoded text as it arrives. */
export class EventStreamParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private sawCarriageReturn = false;
  /** The last `id:` seen (kept across events, as the standard says). */
  lastEventId: string | undefined;
  /** The last valid `retry:` value. */
  retryMs: number | undefined;

  constructor(private readonly dispatch: (message: SseMessage) => void) {}

  push(chunk: string): void {
    let text = chunk;
    // A CRLF split across chunks: drop the LF that follows a CR we already ended a line on.
    if (this.sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.sawCarriageReturn = text.endsWith('\r');
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) {
        this.dispatch({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}
