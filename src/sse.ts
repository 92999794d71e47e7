/**
 * An incremental parser of server-sent events (the `text/event-stream` format), fed with the
 * chunks of a streamed response as they arrive. Chunks may split anywhere: inside a line,
 * between `\r` and `\n`, or inside a multi-byte character (use `feedBytes`).
 *
 * EventSource cannot send JupyterLab's `Authorization` header, hence this parser over `fetch`.
 */

export interface IServerSentEvent {
  /** The event type (`message` when the stream gives none). */
  event: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** The last event id seen so far in the stream (the SSE "last event ID"). */
  id: string | null;
}

export class SSEParser {
  private _buffer = '';
  private _event = '';
  private _data: string[] = [];
  private _hasData = false;
  private _lastId: string | null = null;
  private _pendingCR = false;
  private _decoder: TextDecoder | null = null;

  /** The last event id seen, to resume a stream from. */
  get lastEventId(): string | null {
    return this._lastId;
  }

  /** Feed raw bytes; multi-byte characters split between chunks are decoded correctly. */
  feedBytes(chunk: Uint8Array): IServerSentEvent[] {
    if (!this._decoder) {
      this._decoder = new TextDecoder('utf-8');
    }
    return this.feed(this._decoder.decode(chunk, { stream: true }));
  }

  /** Feed decoded text; returns the events completed by it. */
  feed(text: string): IServerSentEvent[] {
    const events: IServerSentEvent[] = [];
    if (this._pendingCR && text.startsWith('\n')) {
      text = text.slice(1); // the \n of a \r\n split across chunks
    }
    this._pendingCR = false;
    this._buffer += text;
    let start = 0;
    for (let i = 0; i < this._buffer.length; i++) {
      const char = this._buffer[i];
      if (char !== '\n' && char !== '\r') {
        continue;
      }
      const line = this._buffer.slice(start, i);
      if (char === '\r') {
        if (i + 1 < this._buffer.length) {
          if (this._buffer[i + 1] === '\n') {
            i++;
          }
        } else {
          this._pendingCR = true;
        }
      }
      start = i + 1;
      const event = this._line(line);
      if (event) {
        events.push(event);
      }
    }
    this._buffer = this._buffer.slice(start);
    return events;
  }

  /** At the end of the stream: an incomplete last event is dropped, as EventSource does. */
  end(): IServerSentEvent[] {
    const events = this._decoder ? this.feed(this._decoder.decode()) : [];
    this._buffer = '';
    this._data = [];
    this._hasData = false;
    this._event = '';
    return events;
  }

  private _line(line: string): IServerSentEvent | null {
    if (line === '') {
      return this._dispatch();
    }
    if (line.startsWith(':')) {
      return null; // a comment (keep-alive)
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this._event = value;
        break;
      case 'data':
        this._data.push(value);
        this._hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this._lastId = value;
        }
        break;
      default:
        break; // `retry` and unknown fields are ignored
    }
    return null;
  }

  private _dispatch(): IServerSentEvent | null {
    const event = this._event || 'message';
    const hasData = this._hasData;
    const data = this._data.join('\n');
    this._event = '';
    this._data = [];
    this._hasData = false;
    if (!hasData) {
      return null;
    }
    return { event, data, id: this._lastId };
  }
}
