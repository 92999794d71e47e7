import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Poll } from '@lumino/polling';

import { readSettings } from './settings';
import { ChangeNotifier } from './signals';

/**
 * Run a poll now and wait for that tick, whether or not it was started yet (a model may be asked
 * to refresh before anything started its poll).
 */
export async function refreshNow(poll: Poll): Promise<void> {
  if (poll.state.phase === 'constructed') {
    await poll.start();
  } else {
    await poll.refresh();
  }
  await poll.tick.catch(() => undefined);
}

/** How often a polling model refreshes, in milliseconds. */
export interface IPollingFrequency {
  /** Between refreshes while something is live (a build queued or running, an error). */
  interval?: number;
  /** Between refreshes when nothing is live; 0: only on demand. */
  idleInterval?: number;
}

export interface IPollingOptions extends IPollingFrequency {
  /** The poll's name (for debugging). */
  name: string;
  /** The longest wait between tries while failing (the poll backs off up to it). */
  max?: number;
  /**
   * The panel's settings: the frequency is read from them now and each time they change, with
   * `frequency` (by default `refreshInterval` and `idleRefreshInterval`, in seconds).
   */
  settings?: ISettingRegistry.ISettings | null;
  frequency?: (settings: ISettingRegistry.ISettings) => IPollingFrequency;
}

/** The frequency the settings ask for: both intervals. */
export function frequencyOf(settings: ISettingRegistry.ISettings): IPollingFrequency {
  const { refreshInterval, idleRefreshInterval } = readSettings(settings);
  return { interval: refreshInterval * 1000, idleInterval: idleRefreshInterval * 1000 };
}

/**
 * Data kept fresh by a `Poll`: a tick every `interval` while something is live, backing off on
 * errors; when nothing is live, nobody looks (`active` false, the browser tab hidden) or the
 * model says it is paused, it stands by and sends nothing (or refreshes every `idleInterval` if
 * that is set). `refresh()` forces a tick whatever the state and waits for it.
 *
 * A subclass fetches in `fetch()` (throwing makes the poll back off) and says in `live` whether
 * to keep polling.
 */
export abstract class PollingModel extends ChangeNotifier {
  constructor(options: IPollingOptions) {
    super();
    this._interval = options.interval ?? 2000;
    this._idleInterval = options.idleInterval ?? 0;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      name: options.name,
      standby: () => this._standby()
    });
    // Set after construction: the constructor would raise a max under 30 s to 30 s.
    const max = Math.max(options.max ?? 5 * 60 * 1000, this._interval);
    this._poll.frequency = { interval: this._interval, backoff: true, max };
    const settings = options.settings ?? null;
    if (settings) {
      const follow = () => this.configure((options.frequency ?? frequencyOf)(settings));
      follow();
      settings.changed.connect(follow, this);
    }
  }

  /** Whether someone looks at the model (a visible sidebar or view); it polls only then. */
  get active(): boolean {
    return this._active;
  }

  set active(value: boolean) {
    if (value === this._active) {
      return;
    }
    this._active = value;
    this.onActiveChanged(value);
  }

  /** Milliseconds between refreshes while something is live. */
  get interval(): number {
    return this._interval;
  }

  /** Milliseconds between refreshes when nothing is live; 0: only on demand. */
  get idleInterval(): number {
    return this._idleInterval;
  }

  /** Change how often it refreshes (at least every half second). */
  configure(frequency: IPollingFrequency): void {
    if (this.isDisposed) {
      return;
    }
    this._interval = Math.max(500, frequency.interval ?? this._interval);
    this._idleInterval = Math.max(0, frequency.idleInterval ?? this._idleInterval);
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: this._interval,
      max: Math.max(this._poll.frequency.max, this._interval)
    };
  }

  /** Refresh now, whatever the polling state; resolves when that refresh is done. */
  async refresh(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    this._force = true;
    await refreshNow(this._poll);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  /** Fetch the data (and emit `changed`); throw to make the poll back off. */
  protected abstract fetch(): Promise<void>;

  /** Whether to keep polling (something builds, the last fetch failed). */
  protected abstract get live(): boolean;

  /** Whether there is nothing to poll for now, live or not (a draft, a deleted environment). */
  protected get paused(): boolean {
    return false;
  }

  /** Someone started or stopped looking: by default refresh when shown. */
  protected onActiveChanged(active: boolean): void {
    if (active) {
      void this.refresh();
    }
  }

  private async _tick(): Promise<void> {
    this._force = false;
    await this.fetch();
    this._lastFetch = Date.now();
  }

  private _standby(): boolean {
    if (this._force) {
      return false;
    }
    if (!this._active || this.paused || document.visibilityState === 'hidden') {
      return true;
    }
    if (this.live) {
      return false;
    }
    // Idle: refresh now and then only if asked to.
    return !(this._idleInterval > 0 && Date.now() - this._lastFetch >= this._idleInterval);
  }

  private _active = false;
  private _force = false;
  private _idleInterval: number;
  private _interval: number;
  private _lastFetch = 0;
  private _poll: Poll;
}
