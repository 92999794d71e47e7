/**
 * Disk usage and garbage-collected builds: a build row says its size and whether it was
 * collected, Restore posts to the build's restore route, a rollback to a collected build says it
 * restores first; the sidebar shows each namespace's usage (one request for the store) and says
 * nothing when the server has no usage route.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import React from 'react';
import { act } from 'react';

import { CondaStoreAPI } from '../api';
import { EnvironmentsModel, entryOf } from '../model';
import { IBuild, INamespaceUsage, IUsage } from '../models';
import { CondaStoreError } from '../request';
import { SidebarView } from '../sidebar/view';
import { ICondaStoreAPI, IEnvironmentsModel } from '../tokens';
import { BuildsView, COLLECTED_TIP } from '../view/builds';
import { EnvironmentViewModel } from '../view/model';
import { build, env, ns } from './fixtures';

jest.mock('@jupyterlab/ui-components', () => {
  const icon = { react: () => null };
  return {
    addIcon: icon,
    caretDownIcon: icon,
    caretRightIcon: icon,
    fileUploadIcon: icon,
    newFolderIcon: icon,
    refreshIcon: icon
  };
});

// The dialogs: what they would show is kept, and they are answered "cancel".
const dialogs: Array<{ title: string; body: React.ReactNode; buttons: Array<{ label: string }> }> =
  [];
jest.mock('@jupyterlab/apputils', () => ({
  Dialog: {
    cancelButton: () => ({ label: 'Cancel', accept: false }),
    okButton: (options: { label: string }) => ({ ...options, accept: true }),
    warnButton: (options: { label: string }) => ({ ...options, accept: true })
  },
  showDialog: async (options: (typeof dialogs)[number]) => {
    dialogs.push(options);
    return { button: { accept: false } };
  }
}));

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRoot } = require('react-dom/client') as { createRoot: (host: Element) => IRoot };
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

let host: HTMLDivElement;
let root: IRoot;

beforeEach(() => {
  dialogs.length = 0;
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
});

describe('the build history', () => {
  /** Build 3 current (412.3 MiB), build 2 collected (1.2 GiB as built), build 1 failed. */
  let builds: IBuild[];
  let seen: Array<{ method: string; path: string }>;

  /** The real API client over a fetch answering as the server would. */
  function model(): EnvironmentViewModel {
    const answer = (data: unknown) =>
      new Response(JSON.stringify({ status: 'ok', data, message: null }), {
        headers: { 'Content-Type': 'application/json' }
      });
    const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(String(input), init);
      const path = new URL(request.url).pathname.replace('/conda-store/api/v1/', '');
      seen.push({ method: request.method, path });
      if (path === 'environment/default/demo/') {
        return answer(
          env(
            1,
            'default',
            'demo',
            builds.find(b => b.id === 3)!
          )
        );
      }
      if (path === 'build/') {
        return new Response(
          JSON.stringify({ status: 'ok', data: builds, page: 1, size: 100, count: builds.length }),
          { headers: { 'Content-Type': 'application/json' } }
        );
      }
      if (path === 'build/2/restore/' && request.method === 'POST') {
        // The server queues the restore: the build stays collected until it completes.
        builds = builds.map(b => (b.id === 2 ? { ...b, status: 'QUEUED' } : b));
        return answer({ build_id: 2 });
      }
      if (path.startsWith('build/3/diff/')) {
        return answer({ added: [], removed: [], changed: [] });
      }
      return answer([]);
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      fetch: fetchMock as typeof fetch
    });
    return new EnvironmentViewModel({
      api: new CondaStoreAPI(settings),
      namespace: 'default',
      name: 'demo'
    });
  }

  beforeEach(() => {
    seen = [];
    builds = [
      { ...build(3, 1, 'COMPLETED'), size: 412.3 * MiB },
      { ...build(2, 1, 'COMPLETED'), size: 1.2 * GiB, collected_on: '2026-12-01T10:00:00' },
      build(1, 1, 'FAILED')
    ];
  });

  const row = (id: number) => host.querySelector<HTMLElement>(`tr[data-build-id="${id}"]`)!;
  const cells = (id: number) => Array.from(row(id).querySelectorAll('td'));
  const button = (label: string) =>
    host.querySelector<HTMLButtonElement>(`button[aria-label="${label}"]`);

  it('shows each build’s size, and a collected build muted, with Restore', async () => {
    const view = model();
    await view.refresh();
    act(() => root.render(<BuildsView model={view} />));
    expect(cells(3)[4].textContent).toBe('412 MiB');
    expect(row(3).dataset.collected).toBeUndefined();
    expect(button('Restore build 3')).toBeNull();

    expect(cells(2)[4].textContent).toBe('1.2 GiB');
    expect(row(2).dataset.collected).toBe('true');
    expect(row(2).classList).toContain('jp-mod-collected');
    const badge = cells(2)[1].querySelector<HTMLElement>('.jp-CondaStore-badge')!;
    expect(badge.textContent).toBe('collected');
    expect(badge.title).toContain(COLLECTED_TIP);
    expect(button('Restore build 2')).not.toBeNull();
    // A failed build has nothing to restore.
    expect(button('Restore build 1')).toBeNull();
    view.dispose();
  });

  it('restores with a POST to the build’s restore route, then shows it restoring', async () => {
    const view = model();
    await view.refresh();
    act(() => root.render(<BuildsView model={view} />));
    seen.length = 0;
    await act(async () => {
      button('Restore build 2')!.click();
      await wait(20);
    });
    expect(seen[0]).toEqual({ method: 'POST', path: 'build/2/restore/' });
    // Then refreshed: the build is queued to be restored, still collected.
    expect(seen.slice(1).map(s => s.path)).toEqual(
      expect.arrayContaining(['environment/default/demo/', 'build/'])
    );
    const badge = cells(2)[1].querySelector<HTMLElement>('.jp-CondaStore-badge')!;
    expect(badge.textContent).toBe('restoring');
    expect(badge.dataset.status).toBe('QUEUED');
    expect(button('Restore build 2')).toBeNull();
    expect(button('Cancel build 2')).not.toBeNull();
    view.dispose();
  });

  it('says a rollback to a collected build restores it first', async () => {
    const view = model();
    await view.refresh();
    act(() => root.render(<BuildsView model={view} />));
    await act(async () => {
      button('Make build 2 current')!.click();
      await wait(20);
    });
    expect(dialogs).toHaveLength(1);
    const [dialog] = dialogs;
    expect(dialog.title).toBe('Roll back to build 2?');
    expect(dialog.buttons[1].label).toBe('Restore and roll back to build 2');
    const body = document.createElement('div');
    const bodyRoot = createRoot(body);
    act(() => bodyRoot.render(dialog.body));
    expect(body.textContent).toContain('it is restored first');
    expect(body.textContent).toContain('until then default/demo keeps build 3');
    act(() => bodyRoot.unmount());
    // Canceled: nothing was changed.
    expect(seen.some(s => s.method === 'PUT')).toBe(false);
    view.dispose();
  });
});

describe('namespace usage in the sidebar', () => {
  const USAGE: INamespaceUsage[] = [
    { namespace: 'default', environments: 1, builds: 3, bytes: 412.3 * MiB, quota: null },
    {
      namespace: 'team',
      environments: 1,
      builds: 1,
      bytes: 1.5 * GiB,
      quota: 5 * GiB,
      quota_used: 1.2 * GiB
    }
  ];

  function render(usage?: (namespace: string) => INamespaceUsage | undefined): void {
    const done = build(1, 1, 'COMPLETED');
    const model = {
      changed: new Signal<object, void>({}),
      namespaces: [ns(1, 'default'), ns(2, 'team')],
      entries: [
        entryOf(env(1, 'default', 'a', done), undefined, done),
        entryOf(env(2, 'team', 'b', done), undefined, done)
      ],
      loaded: true,
      error: null,
      version: '1.0',
      building: false,
      updated: new Date(),
      active: true,
      refresh: async () => undefined,
      entry: () => undefined,
      usage
    } as unknown as IEnvironmentsModel;
    act(() => root.render(<SidebarView model={model} commands={{} as never} />));
  }

  const header = (namespace: string) =>
    host.querySelector<HTMLElement>(
      `[data-namespace="${namespace}"] .jp-CondaStore-namespaceHeader`
    )!;
  const usageOf = (namespace: string) =>
    header(namespace).querySelector<HTMLElement>('.jp-CondaStore-namespaceUsage');

  it('shows bytes on disk, and with a quota how much of it is used', () => {
    render(namespace => USAGE.find(u => u.namespace === namespace));
    expect(usageOf('default')!.textContent).toBe('412 MiB');
    expect(usageOf('default')!.title).toMatch(/^412 MiB on disk \(1 environment, 3 builds\)\./);
    expect(header('default').getAttribute('aria-label')).toContain('412 MiB on disk');
    expect(usageOf('team')!.textContent).toBe('1.2 GiB of 5.0 GiB');
    expect(usageOf('team')!.dataset.quota).toBeUndefined();
    expect(header('team').getAttribute('aria-label')).toContain('1.2 GiB of 5.0 GiB quota used');
  });

  it('marks a namespace near or over its quota', () => {
    const full = { ...USAGE[1], quota_used: 5 * GiB };
    render(namespace => (namespace === 'team' ? full : { ...USAGE[1], quota_used: 4.6 * GiB }));
    expect(usageOf('team')!.dataset.quota).toBe('over');
    expect(usageOf('default')!.dataset.quota).toBe('near');
  });

  it('shows nothing when the usage is not known', () => {
    render(undefined);
    expect(usageOf('default')).toBeNull();
    render(() => undefined);
    expect(usageOf('team')).toBeNull();
  });
});

describe('the environments model’s usage', () => {
  function api(getUsage: () => Promise<IUsage>): { api: ICondaStoreAPI; asked: () => number } {
    let count = 0;
    const page = <T,>(items: T[]) => Promise.resolve({ items, page: 1, size: 1000, count: 0 });
    const fake = {
      status: () => Promise.resolve({ version: '1.0' }),
      permissions: () => Promise.resolve({ primary_namespace: 'default' }),
      listNamespaces: () => page([ns(1, 'default'), ns(2, 'team')]),
      listEnvironments: () => page([]),
      listBuilds: () => page([]),
      getUsage: () => {
        count++;
        return getUsage();
      }
    } as unknown as ICondaStoreAPI;
    return { api: fake, asked: () => count };
  }

  const STORE = { bytes: 0, package_cache_bytes: 0, free_bytes: 0, storage_threshold: 0 };

  it('asks once per refresh for the whole store, whatever its namespaces', async () => {
    const { api: fake, asked } = api(() =>
      Promise.resolve({
        namespaces: [
          { namespace: 'default', environments: 0, builds: 0, bytes: 0, quota: null },
          { namespace: 'team', environments: 0, builds: 0, bytes: 10, quota: 100, quota_used: 5 }
        ],
        store: STORE
      })
    );
    const model = new EnvironmentsModel(fake);
    await model.refresh();
    await wait(0);
    expect(asked()).toBe(1);
    expect(model.usage('team')?.quota).toBe(100);
    expect(model.usage('default')?.bytes).toBe(0);
    expect(model.usage('other')).toBeUndefined();
    await model.refresh();
    await wait(0);
    expect(asked()).toBe(2);
    model.dispose();
  });

  it('says nothing, and stops asking, when the server has no usage route', async () => {
    const { api: fake, asked } = api(() => Promise.reject(new CondaStoreError('Not Found', 404)));
    const model = new EnvironmentsModel(fake);
    await model.refresh();
    await wait(0);
    expect(model.error).toBeNull();
    expect(model.usage('default')).toBeUndefined();
    await model.refresh();
    await model.refresh();
    await wait(0);
    expect(asked()).toBe(1);
    expect(model.error).toBeNull();
    model.dispose();
  });

  it('keeps other usage errors to itself', async () => {
    const { api: fake } = api(() => Promise.reject(new CondaStoreError('Oops', 500, true)));
    const model = new EnvironmentsModel(fake);
    await model.refresh();
    await wait(0);
    expect(model.error).toBeNull();
    expect(model.loaded).toBe(true);
    model.dispose();
  });
});

describe('the API calls', () => {
  function service(): { api: CondaStoreAPI; seen: Request[] } {
    const seen: Request[] = [];
    const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(String(input), init);
      seen.push(request);
      const data = request.url.includes('restore') ? { build_id: 7 } : { namespaces: [] };
      return new Response(JSON.stringify({ status: 'ok', data, message: 'queued' }), {
        headers: { 'Content-Type': 'application/json' }
      });
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/base/',
      fetch: fetchMock as typeof fetch
    });
    return { api: new CondaStoreAPI(settings), seen };
  }

  it('restoreBuild posts to build/{id}/restore/', async () => {
    const { api, seen } = service();
    expect(await api.restoreBuild(7)).toBe(7);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url.replace(/[?&]\d{13}$/, '')).toBe(
      'http://localhost:8888/base/conda-store/api/v1/build/7/restore/'
    );
  });

  it('getUsage revalidates usage/ through the HTTP cache', async () => {
    const { api, seen } = service();
    expect(await api.getUsage()).toEqual({ namespaces: [] });
    expect(seen[0].url).toBe('http://localhost:8888/base/conda-store/api/v1/usage/');
    expect(seen[0].cache).toBe('no-cache');
  });

  it('a 409 says why', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      fetch: (async () =>
        new Response(JSON.stringify({ status: 'error', message: 'Build 7 is not collected.' }), {
          status: 409,
          headers: { 'Content-Type': 'application/json' }
        })) as typeof fetch
    });
    await expect(new CondaStoreAPI(settings).restoreBuild(7)).rejects.toMatchObject({
      status: 409,
      message: 'Build 7 is not collected.'
    });
  });
});

describe('an environment whose build is being restored', () => {
  it('says it is restored, not built', () => {
    const done = build(3, 1, 'COMPLETED');
    const restoring = { ...build(2, 1, 'BUILDING'), collected_on: '2026-12-01T10:00:00' };
    const entry = entryOf(env(1, 'default', 'a', done), restoring, done);
    expect(entry.detail).toBe('Build 2 is being restored; build 3 is in use.');
    const waiting = { ...restoring, status: 'QUEUED' as const, queue_position: 1 };
    expect(entryOf(env(1, 'default', 'a', done), waiting, done).detail).toMatch(
      /^Build 2 is waiting to be restored \(#1 in the queue\)/
    );
  });
});
