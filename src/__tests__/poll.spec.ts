/**
 * The polling base of the models (standby, backoff, refresh), the settings they follow, and the
 * per-key resources the views read.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { EnvironmentsModel } from '../model';
import { IPollingOptions, PollingModel } from '../poll';
import { Resource } from '../resource';
import { ICondaStoreAPI } from '../tokens';
import { EnvironmentViewModel } from '../view/model';

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** A model that counts its fetches; `live`, `paused` and failing are set by the test. */
class Counter extends PollingModel {
  constructor(options: Partial<IPollingOptions> = {}) {
    super({ name: 'test', interval: 50, ...options });
  }

  fetches = 0;
  times: number[] = [];
  isLive = false;
  isPaused = false;
  failing = false;
  /** When set, a fetch waits for it. */
  gate: Promise<void> | null = null;
  done = 0;

  protected async fetch(): Promise<void> {
    this.fetches++;
    this.times.push(Date.now());
    if (this.gate) {
      await this.gate;
    }
    if (this.failing) {
      throw new Error('down');
    }
    this.done++;
    this.emitChanged();
  }

  protected get live(): boolean {
    return this.isLive;
  }

  protected get paused(): boolean {
    return this.isPaused;
  }
}

/** Settings as the registry gives them: a composite and a signal when it changes. */
class FakeSettings {
  constructor(public composite: Record<string, unknown>) {}
  changed = new Signal<this, void>(this);
  set(values: Record<string, unknown>): void {
    this.composite = { ...this.composite, ...values };
    this.changed.emit();
  }
  get asSettings(): ISettingRegistry.ISettings {
    return this as unknown as ISettingRegistry.ISettings;
  }
}

describe('PollingModel', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('refresh() forces a tick, before or after the poll started, and waits for it', async () => {
    const model = new Counter();
    let open = () => undefined as void;
    model.gate = new Promise<void>(resolve => (open = resolve));
    let refreshed = false;
    const refresh = model.refresh().then(() => (refreshed = true));
    await wait(30);
    expect(model.fetches).toBe(1);
    expect(refreshed).toBe(false); // the fetch has not finished
    open();
    await refresh;
    expect(model.done).toBe(1);

    // Started and standing by (nobody looks): a refresh still fetches, and only once.
    model.gate = null;
    await model.refresh();
    expect(model.done).toBe(2);
    await wait(200);
    expect(model.fetches).toBe(2);
    model.dispose();
  });

  it('stands by when nobody looks, when nothing is live, and when paused', async () => {
    const model = new Counter();
    model.isLive = true;
    await model.refresh(); // not active: stands by after the forced tick
    await wait(200);
    expect(model.fetches).toBe(1);

    model.active = true; // shown: refreshes, and polls while live
    await wait(300);
    expect(model.fetches).toBeGreaterThan(3);

    model.isPaused = true;
    await wait(60);
    let count = model.fetches;
    await wait(200);
    expect(model.fetches).toBe(count);

    model.isPaused = false;
    model.isLive = false; // nothing live: quiet
    await wait(60);
    count = model.fetches;
    await wait(200);
    expect(model.fetches).toBe(count);

    model.active = false;
    model.isLive = true; // live, but nobody looks: quiet
    await wait(200);
    expect(model.fetches).toBe(count);
    model.dispose();
  });

  it('refreshes when idle every idleInterval, if set', async () => {
    const model = new Counter({ idleInterval: 120 });
    model.active = true;
    await wait(450);
    // The first refresh on showing, then about one every 120 ms (checked every 50 ms).
    expect(model.fetches).toBeGreaterThanOrEqual(3);
    expect(model.fetches).toBeLessThanOrEqual(6);
    model.dispose();
  });

  it('sends nothing idle while the browser tab is hidden, and resumes when it shows', async () => {
    let visibility: DocumentVisibilityState = 'hidden';
    jest.spyOn(document, 'visibilityState', 'get').mockImplementation(() => visibility);
    const model = new Counter({ idleInterval: 100 });
    model.active = true; // shown in a hidden tab: the forced refresh only
    await wait(400);
    expect(model.fetches).toBe(1);
    visibility = 'visible';
    await wait(300);
    expect(model.fetches).toBeGreaterThanOrEqual(2);
    model.dispose();
  });

  it('backs off while fetching fails, up to max, and recovers', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.999); // the longest waits backoff allows
    const model = new Counter();
    model.isLive = true;
    model.failing = true;
    model.active = true;
    await wait(800);
    // Each wait up to 3 times the one before (from the immediate first tick: 1, 4, 13, 40, 120,
    // 360 ms): the last wait is far longer than the interval.
    const gaps = model.times.slice(1).map((time, i) => time - model.times[i]);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(model.fetches).toBeLessThan(10); // about 16 without backing off
    expect(gaps[gaps.length - 1]).toBeGreaterThanOrEqual(250);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(2 * gaps[gaps.length - 2]);
    model.dispose();

    const capped = new Counter({ max: 100 });
    capped.isLive = true;
    capped.failing = true;
    capped.active = true;
    await wait(700);
    // Never more than 100 ms apart.
    const capGaps = capped.times.slice(1).map((time, i) => time - capped.times[i]);
    expect(Math.max(...capGaps)).toBeLessThan(100 + 40);
    expect(capped.fetches).toBeGreaterThanOrEqual(6);
    capped.failing = false;
    await capped.refresh();
    const recovered = capped.fetches;
    await wait(300);
    expect(capped.fetches - recovered).toBeGreaterThanOrEqual(4); // back to every 50 ms
    capped.dispose();
  });

  it('sends nothing once disposed', async () => {
    const model = new Counter();
    model.isLive = true;
    model.active = true;
    await wait(120);
    model.dispose();
    const count = model.fetches;
    await model.refresh();
    await wait(200);
    expect(model.fetches).toBe(count);
    expect(model.isDisposed).toBe(true);
  });

  it('follows the settings it was given, as they change', async () => {
    const settings = new FakeSettings({ refreshInterval: 1, idleRefreshInterval: 0 });
    const model = new Counter({ settings: settings.asSettings });
    expect(model.interval).toBe(1000);
    expect(model.idleInterval).toBe(0);
    settings.set({ refreshInterval: 3, idleRefreshInterval: 60 });
    expect(model.interval).toBe(3000);
    expect(model.idleInterval).toBe(60000);
    model.dispose();
    settings.set({ refreshInterval: 5 });
    expect(model.interval).toBe(3000); // disconnected
  });
});

describe('models following the settings', () => {
  const api = {} as ICondaStoreAPI;

  it('the environments model takes both intervals', () => {
    const settings = new FakeSettings({ refreshInterval: 2, idleRefreshInterval: 0 });
    const model = new EnvironmentsModel(api, { settings: settings.asSettings });
    expect([model.interval, model.idleInterval]).toEqual([2000, 0]);
    settings.set({ refreshInterval: 0.5, idleRefreshInterval: 30 });
    expect([model.interval, model.idleInterval]).toEqual([500, 30000]);
    model.dispose();
  });

  it('an environment view takes the refresh interval only (it is never refreshed idle)', () => {
    const settings = new FakeSettings({ refreshInterval: 4, idleRefreshInterval: 10 });
    const model = new EnvironmentViewModel({
      api,
      namespace: 'default',
      name: 'demo',
      settings: settings.asSettings
    });
    expect([model.interval, model.idleInterval]).toEqual([4000, 0]);
    settings.set({ refreshInterval: 1 });
    expect(model.interval).toBe(1000);
    model.dispose();
  });

  it('without settings, the defaults: every 2 s while building, every 10 s when idle', () => {
    const model = new EnvironmentsModel(api);
    expect([model.interval, model.idleInterval]).toEqual([2000, 10000]);
    model.dispose();
  });
});

describe('Resource', () => {
  it('fetches once per key and drops answers for a key no longer wanted', async () => {
    const resource = new Resource<string>();
    const answers: Record<string, (value: string) => void> = {};
    const fetch = (key: string) => () => new Promise<string>(resolve => (answers[key] = resolve));
    void resource.request('a', fetch('a'));
    expect(resource.state.loading).toBe(true);
    void resource.request('a', fetch('again')); // the same key: nothing
    expect(answers['again']).toBeUndefined();
    const b = resource.request('b', fetch('b'));
    answers['a']('A');
    answers['b']('B');
    await b;
    expect(resource.state).toEqual({ key: 'b', value: 'B', error: null, loading: false });
    await resource.request('c', () => Promise.reject(new Error('nope')));
    expect(resource.state.value).toBeNull();
    expect((resource.state.error as Error).message).toBe('nope');
    await resource.request(null, fetch('none'));
    expect(resource.state).toEqual({ key: null, value: null, error: null, loading: false });
    resource.dispose();
  });
});
