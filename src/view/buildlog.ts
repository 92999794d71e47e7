import { ISignal, Signal } from '@lumino/signaling';

import { BuildStatus } from '../models';
import { StateNotifier } from '../signals';
import { ICondaStoreAPI } from '../tokens';

/** What a view shows of a build's log. */
export interface IBuildLogState {
  readonly buildId: number | null;
  readonly lines: ReadonlyArray<string>;
  /** The build's status: as the stream reports it, else as the build said. */
  readonly status: BuildStatus | null;
  /** Why the stream failed, if it did (null otherwise). */
  readonly error: unknown;
  readonly streaming: boolean;
}

/**
 * The log of the build a view shows, streamed live (server-sent events) while the view is
 * visible. Lines arrive fast: they are added once per animation frame. Followed again after a
 * pause, a build's stream resumes where it stopped; a hidden view holds no connection open
 * (browsers allow few per server).
 */
export class BuildLog extends StateNotifier<IBuildLogState, number> {
  /** `changed` is emitted with the number of lines added (0 when something else changed). */
  constructor(private readonly _api: ICondaStoreAPI) {
    super({ buildId: null, lines: [], status: null, error: null, streaming: false });
  }

  /** Emitted when the stream reports a status change or the end of the build. */
  get statusReported(): ISignal<this, BuildStatus> {
    return this._statusReported;
  }

  /**
   * Show the log of build `buildId` (null: none), whose status is `status`, streaming it while
   * `enabled`. Called again with the same build and `enabled`, it only follows the status.
   */
  follow(buildId: number | null, status: BuildStatus | null, enabled: boolean): void {
    if (this.isDisposed) {
      return;
    }
    const same = buildId === this.state.buildId && enabled === this._enabled;
    if (status !== this._buildStatus || buildId !== this.state.buildId) {
      this._buildStatus = status;
      // The build's own status when the stream has not said anything yet.
      if (buildId !== this.state.buildId || !this.state.streaming || this.state.status === null) {
        this.setState({ status });
        if (same) {
          this.emitChanged(0);
        }
      }
    }
    if (same) {
      return;
    }
    this._stop();
    if (buildId !== this.state.buildId) {
      this._offset = 0;
      this.setState({ buildId, lines: [] });
    }
    this._enabled = enabled;
    this.setState({ error: null });
    if (buildId !== null && enabled) {
      this._start(buildId);
    }
    this.emitChanged(0);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stop();
    super.dispose();
  }

  private _start(buildId: number): void {
    const controller = new AbortController();
    this._controller = controller;
    this.setState({ streaming: true });
    const mine = () => this._controller === controller && !controller.signal.aborted;
    const report = (status: BuildStatus) => {
      if (mine()) {
        this.setState({ status });
        this.emitChanged(0);
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
          this.setState({ error: reason });
        }
      })
      .finally(() => {
        if (mine()) {
          this._flush();
          this._controller = null;
          this.setState({ streaming: false });
          this.emitChanged(0);
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
    this.setState({ streaming: false });
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
    this.setState({ lines: this.state.lines.concat(batch) });
    this.emitChanged(batch.length);
  }

  private _buildStatus: BuildStatus | null = null;
  private _controller: AbortController | null = null;
  private _enabled = false;
  private _frame = 0;
  private _offset = 0;
  private _pending: string[] = [];
  private _statusReported = new Signal<this, BuildStatus>(this);
}
