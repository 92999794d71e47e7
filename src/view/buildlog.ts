import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { BuildStatus } from '../models';
import { ICondaStoreAPI } from '../tokens';

/**
 * The log of the build a view shows, streamed live (server-sent events) while the view is
 * visible. Lines arrive fast: they are added once per animation frame. Followed again after a
 * pause, a build's stream resumes where it stopped; a hidden view holds no connection open
 * (browsers allow few per server).
 */
export class BuildLog implements IDisposable {
  constructor(private readonly _api: ICondaStoreAPI) {}

  /** Emitted with the number of lines added (0 when something else changed). */
  get changed(): ISignal<this, number> {
    return this._changed;
  }

  /** Emitted when the stream reports a status change or the end of the build. */
  get statusReported(): ISignal<this, BuildStatus> {
    return this._statusReported;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get buildId(): number | null {
    return this._buildId;
  }

  get lines(): ReadonlyArray<string> {
    return this._lines;
  }

  /** The build's status: as the stream reports it, else as the build said. */
  get status(): BuildStatus | null {
    return this._status;
  }

  /** Why the stream failed, if it did (null otherwise). */
  get error(): unknown {
    return this._error;
  }

  get streaming(): boolean {
    return this._streaming;
  }

  /**
   * Show the log of build `buildId` (null: none), whose status is `status`, streaming it while
   * `enabled`. Called again with the same build and `enabled`, it only follows the status.
   */
  follow(buildId: number | null, status: BuildStatus | null, enabled: boolean): void {
    if (this._disposed) {
      return;
    }
    const same = buildId === this._buildId && enabled === this._enabled;
    if (status !== this._buildStatus || buildId !== this._buildId) {
      this._buildStatus = status;
      // The build's own status when the stream has not said anything yet.
      if (buildId !== this._buildId || !this._streaming || this._status === null) {
        this._status = status;
        if (same) {
          this._changed.emit(0);
        }
      }
    }
    if (same) {
      return;
    }
    this._stop();
    if (buildId !== this._buildId) {
      this._buildId = buildId;
      this._offset = 0;
      this._lines = [];
    }
    this._enabled = enabled;
    this._error = null;
    if (buildId !== null && enabled) {
      this._start(buildId);
    }
    this._changed.emit(0);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._stop();
    this._disposed = true;
    Signal.clearData(this);
  }

  private _start(buildId: number): void {
    const controller = new AbortController();
    this._controller = controller;
    this._streaming = true;
    const mine = () => this._controller === controller && !controller.signal.aborted;
    const report = (status: BuildStatus) => {
      if (mine()) {
        this._status = status;
        this._changed.emit(0);
        this._statusReported.emit(status);
      }
    };
    this._api
      .streamLog(
        buildId,
        {
          onLine: (line, offset) => {
            if (!mine()) {
              return;
            }
            if (offset !== null) {
              this._offset = offset;
            }
            this._pending.push(line);
            if (!this._frame) {
              this._frame = requestAnimationFrame(() => this._flush());
            }
          },
          onStatus: report,
          onEnd: report
        },
        { signal: controller.signal, offset: this._offset }
      )
      .catch(reason => {
        if (mine()) {
          this._error = reason;
        }
      })
      .finally(() => {
        if (mine()) {
          this._flush();
          this._controller = null;
          this._streaming = false;
          this._changed.emit(0);
        }
      });
  }

  /** Stop the stream, keeping the lines that came. */
  private _stop(): void {
    if (this._controller) {
      this._controller.abort();
      this._controller = null;
    }
    this._flush();
    this._streaming = false;
  }

  private _flush(): void {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    const batch = this._pending;
    if (!batch.length) {
      return;
    }
    this._pending = [];
    this._lines = this._lines.concat(batch);
    this._changed.emit(batch.length);
  }

  private _buildId: number | null = null;
  private _buildStatus: BuildStatus | null = null;
  private _changed = new Signal<this, number>(this);
  private _controller: AbortController | null = null;
  private _disposed = false;
  private _enabled = false;
  private _error: unknown = null;
  private _frame = 0;
  private _lines: string[] = [];
  private _offset = 0;
  private _pending: string[] = [];
  private _status: BuildStatus | null = null;
  private _statusReported = new Signal<this, BuildStatus>(this);
  private _streaming = false;
}
