/**
 * What an environment view's model fetches and streams for its tabs: packages, comparisons, the
 * log of the selected build.
 */
import { DraftStore } from '../drafts';
import { BuildStatus, IBuild, IPackage, ISpecification } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { BuildLog } from '../view/buildlog';
import { EnvironmentViewModel } from '../view/model';
import { requestOf, requestedBy } from '../view/packages';
import { SpecificationEdit } from '../view/specedit';
import { packageNameAt, replacePackageName } from '../view/suggestion';
import { build as buildRecord } from './fixtures';

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('EnvironmentViewModel data', () => {
  const build = (id: number, status: BuildStatus): IBuild => buildRecord(id, 1, status);

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

describe('SpecificationEdit', () => {
  const specOf = (id: number) => `name: demo\ndependencies:\n  - alpha=${id}\n`;
  const api = {
    getBuild: (id: number) =>
      Promise.resolve({
        id,
        specification: {
          spec: { name: 'demo', dependencies: [`alpha=${id}`] },
          is_lockfile: false
        }
      })
  } as unknown as ICondaStoreAPI;
  const storage = () => {
    const items = new Map<string, string>();
    return {
      getItem: (key: string) => items.get(key) ?? null,
      setItem: (key: string, value: string) => void items.set(key, value)
    } as unknown as Storage;
  };
  const settle = () => wait(0);

  it('shows the build in use, and follows a rollback unless edited or chosen', async () => {
    const edit = new SpecificationEdit({
      api,
      namespace: 'default',
      name: 'demo',
      drafts: null,
      onChange: () => undefined
    });
    edit.follow(1, 3); // build 3 is newer, build 1 in use
    await settle();
    expect(edit.baseBuildId).toBe(1);
    expect(edit.text).toContain('alpha=1');

    edit.follow(2, 3); // made current elsewhere: the editor follows
    await settle();
    expect(edit.baseBuildId).toBe(2);

    await edit.load(3, { pin: true }); // chosen on purpose: it stays
    edit.follow(2, 3);
    await settle();
    expect(edit.baseBuildId).toBe(3);

    await edit.load(2);
    edit.setText(`${edit.text}# edited\n`);
    edit.follow(1, 3); // edits are never replaced
    await settle();
    expect(edit.baseBuildId).toBe(2);
    expect(edit.dirty).toBe(true);
  });

  it('keeps edits in the draft store until built, and restores them', async () => {
    const drafts = new DraftStore(storage());
    const options = {
      api,
      namespace: 'default',
      name: 'demo',
      drafts,
      onChange: () => undefined,
      saveDelay: 0
    };
    const edit = new SpecificationEdit(options);
    edit.follow(1, 1);
    await settle();
    edit.setText(specOf(1).replace('alpha=1', 'alpha=2'));
    await wait(5);
    expect(drafts.get('default', 'demo')).toMatchObject({ isNew: false, baseBuildId: 1 });

    const again = new SpecificationEdit(options);
    expect(again.text).toContain('alpha=2');
    again.follow(1, 1);
    await settle();
    expect(again.original).toContain('alpha=1');
    expect(again.dirty).toBe(true);

    again.submitted(2);
    expect(drafts.has('default', 'demo')).toBe(false);
    expect(again.dirty).toBe(false);
  });
});

describe('fixing a package name', () => {
  it('replaces the name of the entry at a line, keeping its channel and constraint', () => {
    const text = 'dependencies:\n  - conda-forge::nupmy>=1.2\n  - python\n';
    expect(replacePackageName(text, 2, 5, 'numpy')).toBe(
      'dependencies:\n  - conda-forge::numpy>=1.2\n  - python\n'
    );
    expect(replacePackageName(text, 2, 3, 'numpy')).toContain('conda-forge::numpy>=1.2');
    expect(packageNameAt(text, 3, 5)).toBe('python');
    expect(replacePackageName(text, 9, 1, 'x')).toBeNull();
  });
});

describe('requested packages', () => {
  it('separates what the specification asked for from dependencies', () => {
    const specification = {
      is_lockfile: false,
      spec: { dependencies: ['conda-forge::Alpha>=1.1', 'beta', { pip: ['Some_Thing==1'] }] }
    } as unknown as ISpecification;
    const requested = requestedBy(specification)!;
    const pkg = (name: string, manager = 'conda') => ({ name, manager }) as IPackage;
    expect(requestOf(requested, pkg('alpha'))).toBe('conda-forge::Alpha>=1.1');
    expect(requestOf(requested, pkg('beta'))).toBe('beta');
    expect(requestOf(requested, pkg('some-thing', 'pip'))).toBe('Some_Thing==1');
    expect(requestOf(requested, pkg('gamma'))).toBeUndefined();
  });
});
