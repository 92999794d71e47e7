/**
 * The environments model on a large store: namespaces load when expanded (every page), search
 * asks the server, a refresh asks again only for what is expanded; a small store loads whole.
 */
import { IEnvironmentQuery, IListOptions } from '../api';
import { EnvironmentsModel } from '../model';
import { IBuild, IEnvironment, INamespace, IPage } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { build } from './fixtures';

const pad = (n: number) => String(n).padStart(3, '0');

/** A store of `namespaces` namespaces (ns-000...) of `perNamespace` environments (env-000...). */
class FakeStore {
  constructor(namespaces: number, perNamespace: number) {
    for (let n = 0; n < namespaces; n++) {
      const namespace: INamespace = {
        id: n + 1,
        name: `ns-${pad(n)}`,
        metadata_: {},
        role_mappings: []
      };
      this.namespaces.push(namespace);
      for (let e = 0; e < perNamespace; e++) {
        const id = this.environments.length + 1;
        const done = build(id, id, 'COMPLETED');
        this.environments.push({
          id,
          namespace,
          name: `env-${pad(e)}`,
          current_build_id: id,
          current_build: done,
          description: null,
          updated_on: null
        });
      }
    }
  }

  namespaces: INamespace[] = [];
  environments: IEnvironment[] = [];
  builds: IBuild[] = [];
  /** Every list call: its route and query. */
  calls: Array<[string, Record<string, unknown>]> = [];

  private _page<T>(items: T[], query: IListOptions): Promise<IPage<T>> {
    const size = query.size ?? 1000;
    const page = query.page ?? 1;
    return Promise.resolve({
      items: items.slice((page - 1) * size, page * size),
      page,
      size,
      count: items.length
    });
  }

  api(): ICondaStoreAPI {
    return {
      status: () => Promise.resolve({ version: '1.0' }),
      permissions: () => Promise.resolve({ primary_namespace: 'ns-007' }),
      listNamespaces: (query: IListOptions = {}) => {
        this.calls.push(['namespace', { ...query }]);
        return this._page(this.namespaces, query);
      },
      listEnvironments: (query: IEnvironmentQuery = {}) => {
        this.calls.push(['environment', { ...query }]);
        const found = this.environments.filter(
          e =>
            (!query.namespace || e.namespace.name === query.namespace) &&
            (!query.search || e.name.includes(query.search)) &&
            (!query.status || e.current_build?.status === query.status)
        );
        return this._page(found, query);
      },
      listBuilds: (query: IListOptions = {}) => {
        this.calls.push(['build', { ...query }]);
        return this._page(this.builds, query);
      }
    } as unknown as ICondaStoreAPI;
  }

  /** The environment calls since the last `take`, without the paging and caching options. */
  take(): Array<Record<string, unknown>> {
    const taken = this.calls.filter(([route]) => route === 'environment').map(([, q]) => q);
    this.calls = [];
    return taken.map(({ revalidate, ...query }) => query);
  }
}

const namespacesOf = (model: EnvironmentsModel) =>
  Array.from(new Set(model.entries.map(e => e.environment.namespace.name)));

describe('EnvironmentsModel on a large store', () => {
  it('lists every namespace, opens the primary one, loads the others when expanded', async () => {
    const store = new FakeStore(200, 50); // 10,000 environments
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    expect(model.complete).toBe(false);
    expect(model.namespaces).toHaveLength(200);
    expect(namespacesOf(model)).toEqual(['ns-007']);
    expect(model.entries).toHaveLength(50);
    expect(model.isExpanded('ns-007')).toBe(true);
    expect(model.isExpanded('ns-008')).toBe(false);

    store.take();
    model.expand('ns-150', true);
    expect(model.isLoading('ns-150')).toBe(true);
    await new Promise(resolve => model.changed.connect(resolve));
    expect(model.isLoading('ns-150')).toBe(false);
    expect(namespacesOf(model)).toEqual(['ns-007', 'ns-150']);
    expect(store.take()).toEqual([{ namespace: 'ns-150', sort_by: 'name' }]);
    model.dispose();
  });

  it('pages through a namespace larger than a page', async () => {
    const store = new FakeStore(3, 2500);
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    store.take();
    model.expand('ns-001', true);
    await new Promise(resolve => model.changed.connect(resolve));
    expect(model.entries).toHaveLength(2500);
    expect(model.entry('ns-001', 'env-2499')).toBeDefined();
    expect(store.take()).toEqual([
      { namespace: 'ns-001', sort_by: 'name' },
      { namespace: 'ns-001', sort_by: 'name', page: 2 },
      { namespace: 'ns-001', sort_by: 'name', page: 3 }
    ]);
    model.dispose();
  });

  it('refreshes the expanded namespaces only, and forgets a collapsed one', async () => {
    const store = new FakeStore(200, 50);
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    model.expand('ns-100', true);
    await new Promise(resolve => model.changed.connect(resolve));
    store.take();
    await model.refresh();
    expect(store.take()).toEqual([
      { namespace: 'ns-007', sort_by: 'name' },
      { namespace: 'ns-100', sort_by: 'name' }
    ]);
    model.expand('ns-100', false);
    expect(namespacesOf(model)).toEqual(['ns-007']);
    await model.refresh();
    expect(store.take()).toEqual([{ namespace: 'ns-007', sort_by: 'name' }]);
    // Builds: the recent ones, one page; the namespaces: one page.
    await model.refresh();
    expect(store.calls.map(([route]) => route).sort()).toEqual([
      'build',
      'environment',
      'namespace'
    ]);
    model.dispose();
  });

  it('searches the server, finding environments in collapsed namespaces', async () => {
    const store = new FakeStore(200, 50);
    store.environments[9999].name = 'needle';
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    store.take();
    await model.find('  needle  ');
    expect(store.take()).toEqual([
      { search: 'needle', sort_by: ['namespace', 'name'], size: 1000 }
    ]);
    expect(model.search).toMatchObject({ query: 'needle', loading: false, count: 1 });
    expect(model.entry('ns-199', 'needle')).toBeDefined();
    expect(model.isExpanded('ns-199')).toBe(false);
    // A refresh asks again for the matches; an ended search drops them.
    await model.refresh();
    expect(store.take()).toContainEqual({
      search: 'needle',
      sort_by: ['namespace', 'name'],
      size: 1000
    });
    await model.find('');
    expect(model.search).toBeNull();
    expect(model.entry('ns-199', 'needle')).toBeUndefined();
    model.dispose();
  });

  it('opens a collapsed namespace where a new environment builds', async () => {
    const store = new FakeStore(200, 5);
    const fresh = store.environments[500];
    const running = build(20_000, fresh.id, 'BUILDING');
    fresh.current_build = running;
    store.builds = [running];
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    expect(namespacesOf(model)).toEqual(['ns-007', fresh.namespace.name]);
    expect(model.entry(fresh.namespace.name, fresh.name)?.state).toBe('building');
    // Collapsed by the user, it stays collapsed.
    model.expand(fresh.namespace.name, false);
    await model.refresh();
    expect(namespacesOf(model)).toEqual(['ns-007']);
    model.dispose();
  });

  it('revalidates through the HTTP cache rather than bypassing it', async () => {
    const store = new FakeStore(200, 5);
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    expect(store.calls.length).toBeGreaterThan(0);
    expect(store.calls.every(([, query]) => query.revalidate === true)).toBe(true);
    model.dispose();
  });
});

describe('EnvironmentsModel on a small store', () => {
  it('loads everything in one request, every namespace expanded, filters stay here', async () => {
    const store = new FakeStore(4, 30);
    const model = new EnvironmentsModel(store.api());
    await model.refresh();
    expect(model.complete).toBe(true);
    expect(model.entries).toHaveLength(120);
    expect(store.take()).toEqual([{ sort_by: ['namespace', 'name'], size: 200 }]);
    expect(['ns-000', 'ns-003'].map(ns => model.isExpanded(ns))).toEqual([true, true]);
    // Collapsing hides nothing from the entries and asks for nothing.
    model.expand('ns-000', false);
    expect(model.isExpanded('ns-000')).toBe(false);
    expect(model.entries).toHaveLength(120);
    await model.find('env-001');
    expect(model.search).toBeNull();
    expect(store.take()).toEqual([]);
    model.dispose();
  });
});
