import { IBuild, IEnvironment, INamespace, isActive } from './models';
import { IPollingOptions, PollingModel } from './poll';
import { CondaStoreError } from './request';
import { DEFAULT_SETTINGS } from './settings';
import { EnvironmentState, ICondaStoreAPI, IEnvironmentEntry, IEnvironmentsModel } from './tokens';

/** How many of the most recent builds one refresh looks at (all active ones are among them). */
const RECENT_BUILDS = 200;

/**
 * How often it refreshes (milliseconds; by default every 2 s while something builds, every 10 s
 * when idle), or the settings to read that from and follow.
 */
export type IEnvironmentsModelOptions = Omit<IPollingOptions, 'name' | 'frequency'>;

/**
 * The namespaces and environments of the store with a state per environment.
 *
 * Its poll refreshes it every `interval` while any build is queued or running, backing off on
 * errors; when nothing builds it refreshes every `idleInterval` (others' environments appear);
 * when nobody looks (the sidebar hidden, the browser tab hidden) it stands by and sends nothing.
 * `refresh()` (after an action, on showing the panel) forces one.
 */
export class EnvironmentsModel extends PollingModel implements IEnvironmentsModel {
  constructor(
    private readonly _api: ICondaStoreAPI,
    options: IEnvironmentsModelOptions = {}
  ) {
    super({
      idleInterval: DEFAULT_SETTINGS.idleRefreshInterval * 1000,
      ...options,
      name: '@conda-store-jupyter/labextension:environments'
    });
  }

  get namespaces(): ReadonlyArray<INamespace> {
    return this._namespaces;
  }

  get entries(): ReadonlyArray<IEnvironmentEntry> {
    return this._entries;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): CondaStoreError | Error | null {
    return this._error;
  }

  get version(): string | null {
    return this._version;
  }

  get building(): boolean {
    return this._entries.some(entry => entry.activeBuildId !== null);
  }

  get updated(): Date | null {
    return this._updated;
  }

  async withPackages(packages: string[]): Promise<IEnvironment[]> {
    const page = await this._api.listEnvironments({ packages, sort_by: ['namespace', 'name'] });
    return page.items;
  }

  entry(namespace: string, name: string): IEnvironmentEntry | undefined {
    return this._entries.find(
      e => e.environment.namespace.name === namespace && e.environment.name === name
    );
  }

  protected get live(): boolean {
    return this.building || !!this._error;
  }

  protected async fetch(): Promise<void> {
    try {
      if (this._version === null) {
        this._version = (await this._api.status()).version;
      }
      const [namespaces, environments, builds] = await Promise.all([
        this._api.listNamespaces(),
        this._api.listEnvironments({ sort_by: ['namespace', 'name'] }),
        this._api.listBuilds({ sort_by: 'id', order: 'desc', size: RECENT_BUILDS })
      ]);
      const latest = new Map<number, IBuild>();
      const active = new Map<number, IBuild>();
      for (const build of builds.items) {
        if (!latest.has(build.environment_id)) {
          latest.set(build.environment_id, build);
        }
        if (isActive(build.status)) {
          const seen = active.get(build.environment_id);
          // A running build says more than one waiting behind it; of the waiting ones, the
          // first in the queue (builds come newest first).
          if (!seen || seen.status === 'QUEUED') {
            active.set(build.environment_id, build);
          }
        }
      }
      // Environments without a current build and out of the recent window: ask for their last.
      const unknown = environments.items.filter(e => e.current_build === null && !latest.has(e.id));
      await Promise.all(
        unknown.map(async e => {
          const page = await this._api.listBuilds({
            environment_id: e.id,
            sort_by: 'id',
            order: 'desc',
            size: 1
          });
          if (page.items[0]) {
            latest.set(e.id, page.items[0]);
          }
        })
      );
      this._namespaces = [...namespaces.items].sort((a, b) => a.name.localeCompare(b.name));
      this._entries = environments.items
        .map(environment =>
          entryOf(environment, active.get(environment.id), latest.get(environment.id))
        )
        .sort(
          (a, b) =>
            a.environment.namespace.name.localeCompare(b.environment.namespace.name) ||
            a.environment.name.localeCompare(b.environment.name)
        );
      this._error = null;
      this._loaded = true;
      this._updated = new Date();
      this.emitChanged();
    } catch (error) {
      this._error = error as Error;
      this._loaded = true;
      this.emitChanged();
      throw error; // the poll backs off
    }
  }

  private _entries: IEnvironmentEntry[] = [];
  private _error: CondaStoreError | Error | null = null;
  private _loaded = false;
  private _namespaces: INamespace[] = [];
  private _updated: Date | null = null;
  private _version: string | null = null;
}

/** One environment's state in one word, and a sentence saying why. */
export function entryOf(
  environment: IEnvironment,
  active: IBuild | undefined,
  latest: IBuild | undefined
): IEnvironmentEntry {
  const current = environment.current_build;
  const usable = !!current && current.status === 'COMPLETED';
  let state: EnvironmentState;
  let detail: string;
  if (active) {
    state = active.status === 'BUILDING' ? 'building' : 'queued';
    const place = active.queue_position ? ` (#${active.queue_position} in the queue)` : '';
    detail =
      `Build ${active.id} is ${active.status === 'BUILDING' ? 'running' : `waiting to start${place}`}` +
      (current && current.status === 'COMPLETED' && current.id !== active.id
        ? `; build ${current.id} is in use until it completes.`
        : '.');
  } else if (current && current.status === 'COMPLETED') {
    state = 'ready';
    detail = `Ready: build ${current.id} is in use.`;
    if (latest && latest.id > current.id && latest.status === 'FAILED') {
      detail += ` The newer build ${latest.id} failed.`;
    } else if (latest && latest.id > current.id && latest.status === 'CANCELED') {
      detail += ` The newer build ${latest.id} was canceled.`;
    }
  } else if (latest && latest.status === 'FAILED') {
    state = 'failed';
    detail = `Build ${latest.id} failed${latest.status_info ? `: ${brief(latest.status_info)}` : '.'}`;
  } else if (latest && latest.status === 'CANCELED') {
    state = 'canceled';
    detail = `Build ${latest.id} was canceled; there is no build to use yet.`;
  } else {
    state = 'empty';
    detail = 'No build yet.';
  }
  return {
    environment,
    state,
    detail,
    activeBuildId: active?.id ?? null,
    activeStatus: active?.status ?? null,
    usable,
    queuePosition: active?.status === 'QUEUED' ? (active.queue_position ?? null) : null
  };
}

/** The start of a long message, cut at a word boundary. */
export function brief(text: string, length = 90): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= length) {
    return flat;
  }
  const cut = flat.slice(0, length);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), length / 2))}…`;
}

/** Words for a state, as the badges show them. */
export const STATE_LABELS: Record<EnvironmentState, string> = {
  ready: 'ready',
  building: 'building',
  queued: 'queued',
  failed: 'failed',
  canceled: 'canceled',
  empty: 'no build'
};

/**
 * What a row's badge says: its state, and for an environment still usable while a newer build
 * runs or waits, both (`ready · rebuilding`); a queued build says its place when known.
 */
export function stateText(entry: IEnvironmentEntry): string {
  const place = entry.state === 'queued' && entry.queuePosition ? ` #${entry.queuePosition}` : '';
  if (entry.usable && entry.state === 'building') {
    return 'ready · rebuilding';
  }
  if (entry.usable && entry.state === 'queued') {
    return `ready · queued${place}`;
  }
  return `${STATE_LABELS[entry.state]}${place}`;
}
