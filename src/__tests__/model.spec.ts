/**
 * The environments model: states from builds, live refresh while something builds, nothing
 * sent when idle or when nobody looks. And the log's failure highlighting.
 */
import { EnvironmentsModel, brief, entryOf } from '../model';
import { IBuild, IEnvironment } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { classify, splitLine } from '../view/log';
import { build } from './fixtures';

function environment(id: number, name: string, current: IBuild | null): IEnvironment {
  return {
    id,
    name,
    namespace: { id: 1, name: 'default', metadata_: {}, role_mappings: [] },
    current_build_id: current?.id ?? null,
    current_build: current,
    description: '',
    updated_on: null
  };
}

describe('entryOf', () => {
  it('says ready, building, failed, canceled or no build', () => {
    const done = build(1, 1, 'COMPLETED');
    expect(entryOf(environment(1, 'a', done), undefined, done).state).toBe('ready');
    const running = build(2, 1, 'BUILDING');
    const busy = entryOf(environment(1, 'a', done), running, running);
    expect(busy.state).toBe('building');
    expect(busy.detail).toMatch(/Build 2 is running; build 1 is in use/);
    expect(busy.activeBuildId).toBe(2);
    // A first build is reported current while it builds: it is building, not ready.
    const first = build(3, 2, 'BUILDING');
    expect(entryOf(environment(2, 'b', first), first, first).state).toBe('building');
    const failed = build(4, 3, 'FAILED', 'solve failed for linux-64: Cannot solve the request');
    const entry = entryOf(environment(3, 'c', failed), undefined, failed);
    expect(entry.state).toBe('failed');
    expect(entry.detail).toContain('solve failed for linux-64');
    expect(entryOf(environment(4, 'd', null), undefined, build(5, 4, 'CANCELED')).state).toBe(
      'canceled'
    );
    expect(entryOf(environment(5, 'e', null), undefined, undefined).state).toBe('empty');
  });

  it('keeps a ready environment ready when a newer build failed, and says so', () => {
    const done = build(1, 1, 'COMPLETED');
    const entry = entryOf(environment(1, 'a', done), undefined, build(2, 1, 'FAILED'));
    expect(entry.state).toBe('ready');
    expect(entry.detail).toMatch(/newer build 2 failed/);
  });

  it('says a rebuilt environment stays usable, and where a queued build waits', () => {
    const done = build(1, 1, 'COMPLETED');
    const running = build(2, 1, 'BUILDING');
    const rebuilding = entryOf(environment(1, 'a', done), running, running);
    expect([rebuilding.state, rebuilding.usable]).toEqual(['building', true]);
    const waiting = { ...build(3, 1, 'QUEUED'), queue_position: 2 };
    const queued = entryOf(environment(1, 'a', done), waiting, waiting);
    expect([queued.state, queued.usable, queued.queuePosition]).toEqual(['queued', true, 2]);
    expect(queued.detail).toMatch(/#2 in the queue/);
    const first = { ...build(4, 2, 'QUEUED'), queue_position: null };
    const fresh = entryOf(environment(2, 'b', first), first, first);
    expect([fresh.usable, fresh.queuePosition]).toEqual([false, null]);
    // A running build's position is no queue position.
    expect(entryOf(environment(1, 'a', done), running, running).queuePosition).toBeNull();
  });

  it('takes a first build reported current as the latest when out of the recent window', () => {
    const failed = build(9, 1, 'FAILED', 'solve failed');
    expect(entryOf(environment(1, 'a', failed), undefined, undefined).state).toBe('failed');
  });

  it('cuts long messages at a word', () => {
    expect(brief('short')).toBe('short');
    const long = brief('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(91);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('EnvironmentsModel polling', () => {
  let calls: string[];
  let building: boolean;

  function fakeAPI(): ICondaStoreAPI {
    const page = <T>(items: T[]) =>
      Promise.resolve({ items, page: 1, size: 100, count: items.length });
    return {
      status: () => {
        calls.push('status');
        return Promise.resolve({ version: '9.9' });
      },
      listNamespaces: () => {
        calls.push('namespaces');
        return page([{ id: 1, name: 'default', metadata_: {}, role_mappings: [] }]);
      },
      listEnvironments: () => {
        calls.push('environments');
        return page([environment(1, 'demo', build(1, 1, 'COMPLETED'))]);
      },
      listBuilds: () => {
        calls.push('builds');
        return page(
          building
            ? [build(2, 1, 'BUILDING'), build(1, 1, 'COMPLETED')]
            : [build(1, 1, 'COMPLETED')]
        );
      }
    } as unknown as ICondaStoreAPI;
  }

  beforeEach(() => {
    calls = [];
    building = false;
  });

  const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

  it('refreshes on demand and stays quiet while idle', async () => {
    const model = new EnvironmentsModel(fakeAPI(), { interval: 50 });
    model.active = true;
    await model.refresh();
    expect(model.version).toBe('9.9');
    expect(model.entries.map(e => e.state)).toEqual(['ready']);
    expect(model.building).toBe(false);
    const after = calls.length;
    await wait(300);
    expect(calls.length).toBe(after); // idle: nothing sent
    model.dispose();
  });

  it('polls while something builds, and stops when nobody looks', async () => {
    building = true;
    const model = new EnvironmentsModel(fakeAPI(), { interval: 50 });
    model.active = true;
    await model.refresh();
    expect(model.entries[0].state).toBe('building');
    const start = calls.filter(c => c === 'environments').length;
    await wait(400);
    const polled = calls.filter(c => c === 'environments').length;
    expect(polled).toBeGreaterThan(start + 2);

    model.active = false; // the sidebar is hidden
    await wait(100);
    const hidden = calls.length;
    await wait(300);
    expect(calls.length).toBe(hidden);

    // The build ends; shown again, the panel refreshes once, then goes quiet.
    building = false;
    model.active = true;
    await wait(100);
    expect(model.entries[0].state).toBe('ready');
    const idle = calls.length;
    await wait(300);
    expect(calls.length).toBe(idle);
    model.dispose();
  });

  it('keeps the first queued build of an environment, says when it refreshed', async () => {
    const api = fakeAPI();
    api.listBuilds = () =>
      Promise.resolve({
        items: [
          { ...build(5, 1, 'QUEUED'), queue_position: 3 },
          { ...build(4, 1, 'QUEUED'), queue_position: 1 },
          build(1, 1, 'COMPLETED')
        ],
        page: 1,
        size: 100,
        count: 3
      });
    const model = new EnvironmentsModel(api, { interval: 50 });
    expect(model.updated).toBeNull();
    const before = Date.now();
    await model.refresh();
    expect(model.entries[0]).toMatchObject({ activeBuildId: 4, queuePosition: 1, usable: true });
    expect(model.updated!.getTime()).toBeGreaterThanOrEqual(before);
    model.dispose();
  });

  it('asks the server which environments have a package', async () => {
    const api = fakeAPI();
    const asked: unknown[] = [];
    api.listEnvironments = (query => {
      asked.push(query);
      return Promise.resolve({ items: [environment(7, 'np', null)], page: 1, size: 1, count: 1 });
    }) as ICondaStoreAPI['listEnvironments'];
    const model = new EnvironmentsModel(api);
    const found = await model.withPackages(['numpy']);
    expect(found.map(e => e.id)).toEqual([7]);
    expect(asked).toEqual([{ packages: ['numpy'], sort_by: ['namespace', 'name'] }]);
    model.dispose();
  });

  it('refreshes when idle every idle interval (10 s by default)', async () => {
    const model = new EnvironmentsModel(fakeAPI(), { interval: 50, idleInterval: 100 });
    model.active = true;
    await model.refresh();
    const after = calls.filter(c => c === 'environments').length;
    await wait(450);
    expect(calls.filter(c => c === 'environments').length).toBeGreaterThanOrEqual(after + 2);
    model.dispose();
  });
});

describe('log highlighting', () => {
  const failed = [
    '2026-11-24 07:11:46.351 solving for linux-64: conflict-a, conflict-b from file:///c',
    '2026-11-24 07:11:46.357 solve failed for linux-64:',
    '2026-11-24 07:11:46.357 Cannot solve the request because of: The following packages are incompatible',
    '2026-11-24 07:11:46.357 └─ conflict-a * cannot be installed',
    '2026-11-24 07:11:46.360 build FAILED in 0.03 s'
  ];

  it('splits the timestamp off', () => {
    expect(splitLine(failed[0])).toEqual({
      time: '07:11:46.351',
      text: 'solving for linux-64: conflict-a, conflict-b from file:///c'
    });
    expect(splitLine('no time here')).toEqual({ time: '', text: 'no time here' });
  });

  it('marks the failing step and the solver message of a failed build', () => {
    expect(classify(failed, 'FAILED').map(l => l.kind)).toEqual([
      'normal',
      'failure',
      'message',
      'message',
      'final'
    ]);
  });

  it('marks nothing on a build that did not fail', () => {
    const lines = [
      '2026-11-24 07:11:46.351 error-prone package linked',
      '2026-11-24 07:11:46.360 build COMPLETED in 1 s'
    ];
    expect(classify(lines, 'COMPLETED').map(l => l.kind)).toEqual(['normal', 'final']);
  });
});
