import { entryOf } from './entry';
import { IBuild, IEnvironment, INamespace, INamespaceUsage, IPage, isActive } from './models';
import { IPollingOptions, PollingModel } from './poll';
import { CondaStoreError } from './request';
import {
  PARALLEL_LOADS,
  SEARCH_LIMIT,
  SMALL_STORE,
  allPages,
  initiallyExpanded,
  mapLimit,
  serverWord
} from './scale';
import { DEFAULT_SETTINGS } from './settings';
import { ICondaStoreAPI, IEnvironmentEntry, IEnvironmentsModel, ISearchState } from './tokens';

export { STATE_LABELS, brief, entryOf, stateText } from './entry';

/** How many of the most recent builds one refresh looks at (all active ones are among them). */
const RECENT_BUILDS = 200;

/**
 * How old the namespaces' disk usage may get before a refresh asks again (a refresh asked for,
 * such as after an action, asks anyway): the server walks the store's disk to answer.
 */
const USAGE_MAX_AGE = 60 * 1000;

/** Environments of the store, sorted by namespace and name (the small store's query). */
const STORE_ORDER = ['namespace', 'name'];

/**
 * How often it refreshes (milliseconds; by default every 2 s while something builds, every 10 s
 * when idle), or the settings to read that from and follow.
 */
export type IEnvironmentsModelOptions = Omit<IPollingOptions, 'name' | 'frequency'>;

/**
 * The namespaces and environments of the store with a state per environment.
 *
 * A small store (see scale.ts) is loaded whole. In a large one only the expanded namespaces'
 * environments and the current search's matches are loaded, and a refresh asks again for those
 * only: what a collapsed namespace holds is not asked for.
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

  /** Every environment is loaded (a small store, or not known yet): filters need no server. */
  get complete(): boolean {
    return this._small !== false;
  }

  get search(): ISearchState | null {
    return this._search;
  }

  isExpanded(namespace: string): boolean {
    return this._expanded.has(namespace);
  }

  /** Expanded, its environments not loaded yet. */
  isLoading(namespace: string): boolean {
    return this._expanded.has(namespace) && !this._byNamespace.has(namespace);
  }

  /** Expand (load its environments, and keep them fresh) or collapse (forget them). */
  expand(namespace: string, open: boolean): void {
    if (open === this._expanded.has(namespace)) {
      return;
    }
    if (open) {
      this._expanded.add(namespace);
      if (!this.complete) {
        void this._load([namespace]).then(() => this._publish(), this._fail);
      }
    } else {
      this._expanded.delete(namespace);
      if (!this.complete) {
        this._byNamespace.delete(namespace);
      }
    }
    this._publish();
  }

  /**
   * Look for environments by name on the server (a large store; a small one filters what it
   * has). The matches join the entries until the search changes; '' ends it.
   */
  async find(query: string): Promise<void> {
    const word = this.complete ? '' : serverWord(query);
    if (word === (this._search?.query ?? '')) {
      return;
    }
    this._search = word ? { query: word, loading: true, count: 0, hits: [] } : null;
    this._publish();
    if (word) {
      await this._find().then(() => this._publish(), this._fail);
    }
  }

  async withPackages(packages: string[]): Promise<IEnvironment[]> {
    const page = await this._api.listEnvironments({ packages, sort_by: ['namespace', 'name'] });
    return page.items;
  }

  usage(namespace: string): INamespaceUsage | undefined {
    return this._usage.get(namespace);
  }

  /** Refresh now, the disk usage too (after an action, the Refresh button). */
  async refresh(): Promise<void> {
    this._usageDue = true;
    await super.refresh();
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
      const starting = this._small === null;
      this._refreshUsage();
      if (starting) {
        await this._start();
      }
      const [namespaces, builds] = await Promise.all([
        starting ? null : allPages(page => this._api.listNamespaces(list(page))),
        this._api.listBuilds({ sort_by: 'id', order: 'desc', size: RECENT_BUILDS, ...list(1) }),
        // A small store was just loaded whole by `_start`.
        this._small ? (starting ? null : this._loadStore()) : this._load([...this._expanded]),
        this._search ? this._find() : null
      ]);
      if (namespaces) {
        this._setNamespaces(namespaces.items);
      }
      this._foldBuilds(builds.items);
      await this._openBuilding();
      await this._lookUpLastBuilds();
      this._error = null;
      this._updated = new Date();
      this._publish();
    } catch (error) {
      this._fail(error);
      throw error; // the poll backs off
    }
  }

  /**
   * The first refresh: is the store small? A large one shows its namespaces as soon as they are
   * known, then loads the ones it opens with.
   */
  private async _start(): Promise<void> {
    const [status, primary, namespaces, first] = await Promise.all([
      this._api.status(),
      // Without it (an error, an older server) no namespace is the user's own.
      Promise.resolve()
        .then(() => this._api.permissions())
        .then(
          p => p.primary_namespace || null,
          () => null
        ),
      allPages(page => this._api.listNamespaces(list(page))),
      this._api.listEnvironments({ sort_by: STORE_ORDER, size: SMALL_STORE, ...list(1) })
    ]);
    this._version = status.version;
    this._primary = primary;
    this._small = first.count <= first.items.length;
    if (this._small) {
      this._setStore(first.items);
    }
    this._setNamespaces(namespaces.items);
    if (!this._small) {
      this._loaded = true;
      this._publish(); // the namespaces, while the open ones load
    }
  }

  private _setNamespaces(namespaces: INamespace[]): void {
    const names = namespaces.map(n => n.name);
    const fresh = names.filter(name => !this._seen.has(name));
    // New namespaces follow the rule; ones seen before keep what the user chose.
    for (const name of initiallyExpanded(!!this._small, fresh, this._primary, [])) {
      this._expanded.add(name);
    }
    fresh.forEach(name => this._seen.add(name));
    this._namespaces = [...namespaces].sort((a, b) => a.name.localeCompare(b.name));
    if (this._small) {
      // An environment's namespace is listed even when the namespace list missed it.
      for (const name of this._byNamespace.keys()) {
        if (!this._seen.has(name)) {
          this._seen.add(name);
          this._expanded.add(name);
        }
      }
    }
  }

  /** A small store: everything, whatever is expanded. */
  private async _loadStore(): Promise<void> {
    const all = await allPages(page =>
      this._api.listEnvironments({ sort_by: STORE_ORDER, size: SMALL_STORE, ...list(page) })
    );
    this._setStore(all.items);
  }

  private _setStore(environments: IEnvironment[]): void {
    this._byNamespace.clear();
    for (const environment of environments) {
      const name = environment.namespace.name;
      const bucket = this._byNamespace.get(name);
      if (bucket) {
        bucket.push(environment);
      } else {
        this._byNamespace.set(name, [environment]);
      }
    }
    for (const namespace of this._byNamespace.keys()) {
      if (!this._seen.has(namespace)) {
        this._seen.add(namespace);
        this._expanded.add(namespace);
      }
    }
  }

  /** A large store: the environments of these namespaces, every page, kept if still wanted. */
  private async _load(namespaces: string[]): Promise<void> {
    await mapLimit(namespaces, PARALLEL_LOADS, async namespace => {
      const ticket = (this._tickets.get(namespace) ?? 0) + 1;
      this._tickets.set(namespace, ticket);
      const page = await allPages(page =>
        this._api.listEnvironments({ namespace, sort_by: 'name', ...list(page) })
      );
      // Collapsed meanwhile, or loaded again by a later call: this answer is stale.
      if (this._expanded.has(namespace) && this._tickets.get(namespace) === ticket) {
        this._byNamespace.set(namespace, page.items);
      }
    });
  }

  private async _find(): Promise<void> {
    const search = this._search;
    if (!search) {
      return;
    }
    const page: IPage<IEnvironment> = await this._api.listEnvironments({
      search: search.query,
      sort_by: STORE_ORDER,
      size: SEARCH_LIMIT,
      ...list(1)
    });
    if (this._search === search || this._search?.query === search.query) {
      this._search = { query: search.query, loading: false, count: page.count, hits: page.items };
    }
  }

  private _foldBuilds(builds: IBuild[]): void {
    this._latest.clear();
    this._activeBuilds.clear();
    for (const build of builds) {
      if (!this._latest.has(build.environment_id)) {
        this._latest.set(build.environment_id, build);
      }
      if (isActive(build.status)) {
        const seen = this._activeBuilds.get(build.environment_id);
        // A running build says more than one waiting behind it; of the waiting ones, the
        // first in the queue (builds come newest first).
        if (!seen || seen.status === 'QUEUED') {
          this._activeBuilds.set(build.environment_id, build);
        }
      }
    }
  }

  /**
   * A large store: a new environment's first build queued or running in a collapsed namespace
   * (just created, here or by someone else) opens that namespace, once.
   */
  private async _openBuilding(): Promise<void> {
    if (this._small) {
      return;
    }
    const known = new Set(this._environments().map(e => e.id));
    const unseen = [...this._activeBuilds.keys()].filter(
      id => !known.has(id) && !this._opened.has(id)
    );
    if (!unseen.length) {
      return;
    }
    unseen.forEach(id => this._opened.add(id));
    const pages = await Promise.all(
      (['QUEUED', 'BUILDING'] as const).map(status =>
        this._api.listEnvironments({ status, sort_by: STORE_ORDER, ...list(1) })
      )
    );
    const building = pages
      .flatMap(page => page.items)
      .filter(e => unseen.includes(e.id))
      .map(e => e.namespace.name);
    const names = this._namespaces.map(n => n.name);
    const open = [...initiallyExpanded(false, names, null, building)].filter(
      name => name !== this._primary && !this._expanded.has(name)
    );
    open.forEach(name => this._expanded.add(name));
    await this._load(open);
  }

  /** Environments without a current build and out of the recent window: ask for their last. */
  private async _lookUpLastBuilds(): Promise<void> {
    const unknown = this._environments().filter(
      e => e.current_build === null && !this._latest.has(e.id)
    );
    await mapLimit(unknown, PARALLEL_LOADS, async e => {
      if (!this._lastBuilds.has(e.id)) {
        const page = await this._api.listBuilds({
          environment_id: e.id,
          sort_by: 'id',
          order: 'desc',
          size: 1
        });
        this._lastBuilds.set(e.id, page.items[0] ?? null);
      }
      const last = this._lastBuilds.get(e.id);
      if (last) {
        this._latest.set(e.id, last);
      }
    });
  }

  /** What is loaded: the expanded (small store: all) namespaces' environments and the matches. */
  private _environments(): IEnvironment[] {
    const byId = new Map<number, IEnvironment>();
    for (const [namespace, environments] of this._byNamespace) {
      if (this._small || this._expanded.has(namespace)) {
        environments.forEach(e => byId.set(e.id, e));
      }
    }
    for (const hit of this._search?.hits ?? []) {
      if (!byId.has(hit.id)) {
        byId.set(hit.id, hit);
      }
    }
    return [...byId.values()];
  }

  private _publish(): void {
    const order = new Intl.Collator();
    this._entries = this._environments()
      .map(e => entryOf(e, this._activeBuilds.get(e.id), this._latest.get(e.id)))
      .sort(
        (a, b) =>
          order.compare(a.environment.namespace.name, b.environment.namespace.name) ||
          order.compare(a.environment.name, b.environment.name)
      );
    this._loaded = this._loaded || this._small !== null;
    this.emitChanged();
  }

  /**
   * The namespaces' disk usage: one request for the whole store, at most one per refresh and
   * not awaited (the server walks the disk; the lists need not wait). A server without the
   * route (404) is not asked again; other errors wait for the next turn, silently.
   */
  private _refreshUsage(): void {
    if (this._usageMissing || this._usageLoading) {
      return;
    }
    if (!this._usageDue && Date.now() - this._usageAt < USAGE_MAX_AGE) {
      return;
    }
    this._usageDue = false;
    this._usageAt = Date.now();
    this._usageLoading = true;
    Promise.resolve()
      .then(() => this._api.getUsage())
      .then(
        usage => {
          this._usage = new Map(usage.namespaces.map(n => [n.namespace, n]));
          if (!this.isDisposed) {
            this.emitChanged();
          }
        },
        error => {
          if (error instanceof CondaStoreError && error.status === 404) {
            this._usageMissing = true;
          }
        }
      )
      .finally(() => {
        this._usageLoading = false;
      });
  }

  private _fail = (error: unknown): void => {
    this._error = error as Error;
    this._loaded = true;
    this.emitChanged();
  };

  private _activeBuilds = new Map<number, IBuild>();
  private _byNamespace = new Map<string, IEnvironment[]>();
  private _entries: IEnvironmentEntry[] = [];
  private _error: CondaStoreError | Error | null = null;
  private _expanded = new Set<string>();
  private _lastBuilds = new Map<number, IBuild | null>();
  private _latest = new Map<number, IBuild>();
  private _loaded = false;
  private _namespaces: INamespace[] = [];
  private _opened = new Set<number>();
  private _primary: string | null = null;
  private _search: ISearchState | null = null;
  private _seen = new Set<string>();
  /** Whether the store is small (loaded whole); null before the first refresh. */
  private _small: boolean | null = null;
  private _tickets = new Map<string, number>();
  private _updated: Date | null = null;
  private _usage = new Map<string, INamespaceUsage>();
  /** When usage was last asked for. */
  private _usageAt = 0;
  /** Ask for usage at the next refresh, however recent the last answer. */
  private _usageDue = true;
  private _usageLoading = false;
  /** The server has no usage/ route (an older one). */
  private _usageMissing = false;
  private _version: string | null = null;
}

/** A page of a list refreshed by polling: revalidated through the HTTP cache, not bypassing it. */
function list(page: number): { page?: number; revalidate: true } {
  return page > 1 ? { page, revalidate: true } : { revalidate: true };
}
