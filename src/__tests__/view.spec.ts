/**
 * What an environment view's model fetches and streams for its tabs: packages, comparisons, the
 * log of the selected build.
 */
import { BuildStatus, IBuild } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { BuildLog } from '../view/buildlog';
import { EnvironmentViewModel } from '../view/model';

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('EnvironmentViewModel data', () => {
  function build(id: number, status: BuildStatus): IBuild {
    return {
      id,
      environment_id: 1,
      specification: null,
      packages: null,
      status,
      status_info: null,
      size: 0,
      scheduled_on: null,
      started_on: null,
      ended_on: null,
      build_artifacts: []
    };
  }

  let calls: string[];
  let builds: IBuild[];
  const fakeAPI = () =>
    ({
      getEnvironment: () => {
        calls.push('environment');
        return Promise.resolve({
          id: 1,
          name: 'demo',
          namespace: { id: 1, name: 'default', metadata_: {}, role_mappings: [] },
          current_build_id: 1,
          current_build: builds.find(b => b.id === 1),
          description: '',
          updated_on: null
        });
      },
      listBuilds: () => {
        calls.push('builds');
        return Promise.resolve({ items: builds, page: 1, size: 100, count: builds.length });
      },
      getBuild: (id: number) => {
        calls.push(`build ${id}`);
        return Promise.resolve(build(id, 'COMPLETED'));
      },
      buildPackages: (id: number) => {
        calls.push(`packages ${id}`);
        return Promise.resolve({ items: [], page: 1, size: 100, count: 0 });
      },
      diffBuilds: (from: number, to: number) => {
        calls.push(`diff ${from}-${to}`);
        return Promise.resolve({ added: [], removed: [], changed: [] });
      }
    }) as unknown as ICondaStoreAPI;

  beforeEach(() => {
    calls = [];
    builds = [build(3, 'BUILDING'), build(2, 'COMPLETED'), build(1, 'COMPLETED')];
  });

  it('fetches the packages of the selected build, again when its status changes', async () => {
    const model = new EnvironmentViewModel({ api: fakeAPI(), namespace: 'default', name: 'demo' });
    expect(model.packages.state.key).toBeNull(); // nothing before it is loaded
    await model.refresh();
    await wait(0);
    expect(model.selectedBuildId).toBe(3);
    expect(calls.filter(c => c.startsWith('packages'))).toEqual(['packages 3']);
    model.tab = 'builds'; // other changes: no new request
    await model.refresh();
    expect(calls.filter(c => c.startsWith('packages'))).toEqual(['packages 3']);
    builds = [build(3, 'COMPLETED'), build(2, 'COMPLETED'), build(1, 'COMPLETED')];
    await model.refresh();
    model.selectBuild(2);
    await wait(0);
    expect(calls.filter(c => c.startsWith('packages'))).toEqual([
      'packages 3',
      'packages 3',
      'packages 2'
    ]);
    expect(model.packages.state.value).toEqual([]);
    model.dispose();
  });

  it('sends nothing for a draft', async () => {
    const model = new EnvironmentViewModel({
      api: fakeAPI(),
      namespace: 'default',
      name: 'demo',
      draft: { text: 'name: demo\n' }
    });
    model.active = true;
    await model.refresh();
    model.selectBuild(1);
    await wait(0);
    expect(calls).toEqual([]);
    model.dispose();
  });

  it('compares a build with the current one by default, and with another on demand', async () => {
    const model = new EnvironmentViewModel({ api: fakeAPI(), namespace: 'default', name: 'demo' });
    await model.refresh();
    model.comparison.show(2);
    expect([model.comparison.from, model.comparison.to]).toEqual([2, 1]);
    await wait(0);
    expect(model.comparison.differences.state.value).toEqual({
      added: [],
      removed: [],
      changed: []
    });
    model.comparison.show(2, 3);
    model.comparison.show(1); // current: compared with the newest other completed build
    expect(model.comparison.to).toBe(2);
    model.comparison.show(null);
    expect(model.comparison.from).toBeNull();
    expect(calls.filter(c => c.startsWith('diff'))).toEqual(['diff 1-2', 'diff 3-2', 'diff 2-1']);
    model.dispose();
  });
});

describe('BuildLog', () => {
  type Handlers = Parameters<ICondaStoreAPI['streamLog']>[1];
  type Options = Parameters<ICondaStoreAPI['streamLog']>[2];
  let streams: Array<{ id: number; handlers: Handlers; options: Options; end: () => void }>;
  const api = {
    streamLog: (id: number, handlers: Handlers, options: Options) =>
      new Promise<void>(resolve => {
        streams.push({ id, handlers, options, end: resolve });
        options?.signal?.addEventListener('abort', () => resolve());
      })
  } as unknown as ICondaStoreAPI;
  const frame = () => new Promise(resolve => requestAnimationFrame(resolve));

  beforeEach(() => {
    streams = [];
  });

  it('streams while enabled, in batches, and resumes where it stopped', async () => {
    const log = new BuildLog(api);
    const added: number[] = [];
    const reported: string[] = [];
    log.changed.connect((_, count) => count && added.push(count));
    log.statusReported.connect((_, status) => reported.push(status));
    log.follow(3, 'BUILDING', false);
    expect(streams).toEqual([]); // hidden: no connection
    expect(log.state.status).toBe('BUILDING');
    log.follow(3, 'BUILDING', true);
    expect(log.state.streaming).toBe(true);
    streams[0].handlers.onLine?.('one', 4);
    streams[0].handlers.onLine?.('two', 8);
    await frame();
    expect(log.state.lines).toEqual(['one', 'two']);
    expect(added).toEqual([2]);

    log.follow(3, 'BUILDING', false); // hidden: the stream stops, the lines stay
    expect(streams[0].options?.signal?.aborted).toBe(true);
    expect(log.state.streaming).toBe(false);
    log.follow(3, 'BUILDING', true);
    expect(streams[1].options?.offset).toBe(8);
    streams[1].handlers.onLine?.('three', 14);
    streams[1].handlers.onEnd?.('COMPLETED');
    streams[1].end();
    await wait(0);
    expect(log.state.lines).toEqual(['one', 'two', 'three']);
    expect([log.state.status, log.state.streaming]).toEqual(['COMPLETED', false]);
    expect(reported).toEqual(['COMPLETED']);
    // The build's own status does not override what the stream said while it streamed.
    log.follow(3, 'COMPLETED', true);
    expect(log.state.status).toBe('COMPLETED');

    log.follow(2, 'FAILED', true); // another build: from the start
    expect(log.state.lines).toEqual([]);
    expect(log.state.status).toBe('FAILED');
    expect(streams[2].options?.offset).toBe(0);
    streams[1].handlers.onLine?.('late', 20); // the old stream: dropped
    await frame();
    expect(log.state.lines).toEqual([]);
    log.dispose();
    expect(streams[2].options?.signal?.aborted).toBe(true);
  });
});
