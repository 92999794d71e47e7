/**
 * A notebook records the build its kernel runs as it is saved, and says when the recorded build
 * is no longer its environment's current one.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { KernelSpec, ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import type { IBuildRecord, IRunningKernel } from '../api';
import type { IBuild } from '../models';
import { RunningKernels } from '../kernelstatus';
import {
  BuildRecords,
  NotebookRecorder,
  RECORD_KEY,
  RecordStatusItem,
  environmentKernelName,
  readRecord,
  recordDifference
} from '../record';
import { CondaStoreError } from '../request';
import { CommandIDs, ICondaStoreAPI, IEnvironmentEntry, IEnvironmentsModel } from '../tokens';
import { build, env } from './fixtures';

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

/** The record the server gives of build `id` of default/demo. */
function recordOf(id: number): IBuildRecord {
  return {
    namespace: 'default',
    environment: 'demo',
    build_id: id,
    specification_sha256: `spec-${id}`,
    lockfile_sha256: `lock-${id}`,
    lockfile: `version: 1\n# build ${id}\n`,
    store_version: '2025.1.0'
  };
}

/** A notebook model's metadata, copied in and out as the shared model does. */
class FakeModel {
  metadataChanged = new Signal<this, { key: string }>(this);
  dirty = false;
  writes = 0;
  metadata: Record<string, unknown> = {};

  getMetadata(key: string): unknown {
    const value = this.metadata[key];
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  setMetadata(key: string, value: unknown): void {
    this.metadata[key] = JSON.parse(JSON.stringify(value));
    this.dirty = true;
    this.writes++;
    this.metadataChanged.emit({ key });
  }
}

/** A session on kernel `k1` of spec `name` (a store kernel when `store`). */
function fakeSession(name: string, store: boolean) {
  return {
    session: { kernel: { id: 'k1', name } },
    specsManager: {
      specs: {
        default: name,
        kernelspecs: {
          [name]: {
            name,
            display_name: name,
            language: 'python',
            argv: [],
            resources: {},
            metadata: store ? { conda_store: { namespace: 'default', environment: 'demo' } } : {}
          }
        }
      }
    },
    kernelChanged: new Signal<unknown, unknown>({}),
    statusChanged: new Signal<unknown, string>({})
  } as unknown as ISessionContext;
}

/**
 * A document context that saves as JupyterLab's does: 'started' is emitted, then the content is
 * serialized (synchronously), then written.
 */
class FakeContext {
  constructor(readonly sessionContext: ISessionContext) {}
  saveState = new Signal<this, string>(this);
  model = new FakeModel();
  /** What each save wrote. */
  saved: Array<{ metadata: Record<string, unknown> }> = [];

  async save(): Promise<void> {
    this.saveState.emit('started');
    const content = JSON.parse(JSON.stringify({ metadata: this.model.metadata }));
    await Promise.resolve();
    this.saved.push(content);
    this.model.dirty = false;
    this.saveState.emit('completed');
  }
}

describe('NotebookRecorder', () => {
  let kernels: IRunningKernel[];
  let asked: number[];
  let failing: boolean;
  let running: RunningKernels;
  let records: BuildRecords;
  const api = {
    runningKernels: () => Promise.resolve(kernels),
    buildRecord: (id: number) => {
      asked.push(id);
      return failing
        ? Promise.reject(new CondaStoreError('not completed', 409, true))
        : Promise.resolve(recordOf(id));
    }
  } as unknown as ICondaStoreAPI;

  const kernel = (buildId: number | null): IRunningKernel => ({
    kernel_id: 'k1',
    kernel_name: 'conda-store-default--demo',
    namespace: 'default',
    environment: 'demo',
    build_id: buildId,
    current_build_id: buildId,
    stale: false
  });

  /** A notebook on the store's kernel (or another), its recorder, once the kernels are known. */
  async function notebook(
    store = true
  ): Promise<{ context: FakeContext; recorder: NotebookRecorder }> {
    const context = new FakeContext(
      fakeSession(store ? 'conda-store-default--demo' : 'python3', store)
    );
    const recorder = new NotebookRecorder(context, running, records);
    await running.refresh();
    await flush();
    return { context, recorder };
  }

  beforeEach(() => {
    kernels = [kernel(12)];
    asked = [];
    failing = false;
    running = new RunningKernels(api, 60_000);
    records = new BuildRecords(api);
  });

  afterEach(() => {
    running.dispose();
  });

  it('writes the record of the kernel’s build as the save starts, so the save carries it', async () => {
    const { context, recorder } = await notebook();
    expect(recorder.buildId).toBe(12);
    await context.save();
    expect(context.saved[0].metadata[RECORD_KEY]).toEqual(recordOf(12));
    expect(context.model.dirty).toBe(false);
    recorder.dispose();
  });

  it('fetches each build’s record once, for every notebook', async () => {
    const first = await notebook();
    const second = await notebook();
    await first.context.save();
    await second.context.save();
    await first.context.save();
    expect(asked).toEqual([12]);
    expect(second.context.saved[0].metadata[RECORD_KEY]).toEqual(recordOf(12));
    first.recorder.dispose();
    second.recorder.dispose();
  });

  it('fetches the new build’s record when the kernel moves to it', async () => {
    const { context, recorder } = await notebook();
    await context.save();
    kernels = [kernel(15)];
    await running.refresh();
    await flush();
    expect(asked).toEqual([12, 15]);
    await context.save();
    expect(context.saved[1].metadata[RECORD_KEY]).toEqual(recordOf(15));
    recorder.dispose();
  });

  it('does not rewrite a record that is already there', async () => {
    const { context, recorder } = await notebook();
    await context.save();
    expect(context.model.writes).toBe(1);
    await context.save();
    expect(context.model.writes).toBe(1);
    expect(recorder.record()).toBe(false);
    expect(context.model.dirty).toBe(false);
    recorder.dispose();
  });

  it('keeps the record of a notebook whose kernel is not a store kernel', async () => {
    kernels = [];
    const { context, recorder } = await notebook(false);
    const elsewhere = { ...recordOf(3), environment: 'other' };
    context.model.metadata[RECORD_KEY] = elsewhere;
    await context.save();
    expect(context.saved[0].metadata[RECORD_KEY]).toEqual(elsewhere);
    expect(context.model.writes).toBe(0);
    expect(asked).toEqual([]);
    recorder.dispose();
  });

  it('saves without a record it cannot fetch, and tries again later', async () => {
    failing = true;
    const { context, recorder } = await notebook();
    await expect(context.save()).resolves.toBeUndefined();
    await flush();
    expect(context.saved[0].metadata[RECORD_KEY]).toBeUndefined();
    failing = false;
    await context.save(); // asks again; this save still goes without
    await flush();
    await context.save();
    expect(context.saved[2].metadata[RECORD_KEY]).toEqual(recordOf(12));
    recorder.dispose();
  });

  it('does not record while the kernel restarts (it may come back on another build)', async () => {
    const { context, recorder } = await notebook();
    const status = context.sessionContext.statusChanged as unknown as Signal<unknown, string>;
    status.emit('restarting');
    await context.save();
    expect(context.saved[0].metadata[RECORD_KEY]).toBeUndefined();
    kernels = [kernel(15)];
    status.emit('idle');
    await flush();
    await flush();
    expect(recorder.buildId).toBe(15);
    await context.save();
    expect(context.saved[1].metadata[RECORD_KEY]).toEqual(recordOf(15));
    recorder.dispose();
  });
});

describe('readRecord and recordDifference', () => {
  it('reads a record, and nothing else', () => {
    expect(readRecord(recordOf(12))).toEqual({
      namespace: 'default',
      environment: 'demo',
      build_id: 12
    });
    expect(readRecord(undefined)).toBeNull();
    expect(readRecord({ namespace: 'default', environment: 'demo' })).toBeNull();
    expect(readRecord('conda_store')).toBeNull();
  });

  it('says which builds differ, nothing when the recorded one is current', () => {
    const record = recordOf(12);
    expect(recordDifference(record, 15)).toMatchObject({
      text: 'Recorded on build 12 · current is 15',
      compareWith: 15
    });
    expect(recordDifference(record, 15)?.title).toContain('default/demo');
    expect(recordDifference(record, 12)).toBeNull();
    expect(recordDifference(record, null)).toBeNull();
    expect(recordDifference(record, undefined)).toBeNull();
    expect(recordDifference(record, 'deleted')).toMatchObject({
      text: 'Recorded on default/demo (deleted)',
      compareWith: null
    });
  });
});

describe('RecordStatusItem', () => {
  let environments: Array<{ current: number }> | 'deleted';
  let lookups: number;
  const api = {
    getEnvironment: () => {
      lookups++;
      if (environments === 'deleted') {
        return Promise.reject(new CondaStoreError('No environment default/demo', 404, true));
      }
      return Promise.resolve(
        env(1, 'default', 'demo', build(environments[0].current, 1, 'COMPLETED'))
      );
    }
  } as unknown as ICondaStoreAPI;

  /** A loaded environments model holding default/demo at build `current`. */
  class FakeEnvironments {
    changed = new Signal<this, void>(this);
    loaded = true;
    constructor(public current: number | null) {}
    entry(namespace: string, name: string): IEnvironmentEntry | undefined {
      return this.current === null || namespace !== 'default' || name !== 'demo'
        ? undefined
        : ({
            environment: env(1, 'default', 'demo', build(this.current, 1, 'COMPLETED'))
          } as IEnvironmentEntry);
    }
  }

  const model = (recorded?: number) => {
    const m = new FakeModel();
    if (recorded !== undefined) {
      m.metadata[RECORD_KEY] = recordOf(recorded);
    }
    return m;
  };

  beforeEach(() => {
    environments = [{ current: 15 }];
    lookups = 0;
  });

  it('says the recorded build differs from the current one, and compares them', async () => {
    const commands = { execute: jest.fn(() => Promise.resolve()) };
    const item = new RecordStatusItem({ model: model(12), api, environments: null, commands });
    await flush();
    expect(item.isHidden).toBe(false);
    expect(item.node.textContent).toContain('Recorded on build 12 · current is 15');
    expect(item.node.title).toContain('default/demo');
    const button = item.node.querySelector<HTMLButtonElement>(
      '.jp-CondaStore-recordStatus-compare'
    )!;
    expect(button.hidden).toBe(false);
    button.click();
    expect(commands.execute).toHaveBeenCalledWith(CommandIDs.openEnvironment, {
      namespace: 'default',
      name: 'demo',
      tab: 'builds',
      buildId: 12,
      compareWith: 15
    });
    item.dispose();
  });

  it('hides when the recorded build is current, or there is no record', async () => {
    environments = [{ current: 12 }];
    const current = new RecordStatusItem({
      model: model(12),
      api,
      environments: null,
      commands: null
    });
    const none = new RecordStatusItem({ model: model(), api, environments: null, commands: null });
    await flush();
    expect(current.isHidden).toBe(true);
    expect(none.isHidden).toBe(true);
    expect(lookups).toBe(1); // no record: nothing asked
    current.dispose();
    none.dispose();
  });

  it('says the recorded environment was deleted', async () => {
    environments = 'deleted';
    const item = new RecordStatusItem({
      model: model(12),
      api,
      environments: null,
      commands: null
    });
    await flush();
    expect(item.isHidden).toBe(false);
    expect(item.node.textContent).toContain('Recorded on default/demo (deleted)');
    expect(
      item.node.querySelector<HTMLButtonElement>('.jp-CondaStore-recordStatus-compare')!.hidden
    ).toBe(true);
    item.dispose();
  });

  it('takes the current build from the environments model, and follows it', async () => {
    const fake = new FakeEnvironments(15);
    const item = new RecordStatusItem({
      model: model(12),
      api,
      environments: fake as unknown as IEnvironmentsModel,
      commands: null
    });
    await flush();
    expect(lookups).toBe(0);
    expect(item.node.textContent).toContain('current is 15');
    fake.current = 12; // rolled back to the recorded build
    fake.changed.emit();
    await flush();
    expect(item.isHidden).toBe(true);
    // Gone from the model: the server says whether it was deleted.
    environments = 'deleted';
    fake.current = null;
    fake.changed.emit();
    await flush();
    expect(lookups).toBe(1);
    expect(item.node.textContent).toContain('(deleted)');
    fake.changed.emit();
    await flush();
    expect(lookups).toBe(1); // asked once
    item.dispose();
  });

  it('follows the record as a save rewrites it', async () => {
    const m = model(12);
    const item = new RecordStatusItem({ model: m, api, environments: null, commands: null });
    await flush();
    expect(item.isHidden).toBe(false);
    m.setMetadata(RECORD_KEY, recordOf(15));
    await flush();
    expect(item.isHidden).toBe(true);
    item.dispose();
  });
});

describe('RecordStatusItem runs the notebook on the recorded build', () => {
  const BASE = 'http://localhost:8888/base/';
  const ENV_KERNEL = 'conda-store-default--demo';
  const BUILD_KERNEL = 'conda-store-default--demo--build-12';

  /** A kernel spec of default/demo; `pinned` to build 12, or the environment's (build 15). */
  const spec = (name: string, pinned: boolean): KernelSpec.ISpecModel => ({
    name,
    display_name: name,
    language: 'python',
    argv: [],
    resources: {},
    metadata: {
      conda_store: {
        namespace: 'default',
        environment: 'demo',
        build_id: pinned ? 12 : 15,
        ...(pinned ? { pinned: true } : {})
      }
    }
  });

  let posted: Array<{ url: string; method: string }>;
  let answer: () => Response;
  /** The kernel specs the server lists (the build's appears once `specPolls` reach 0). */
  let specPolls: number;
  let builds: IBuild[];
  let session: ReturnType<typeof fakeNotebookSession>;

  /** A notebook's session on `kernelName`; its kernel spec manager asks the fake server. */
  function fakeNotebookSession(kernelName: string) {
    const specs: KernelSpec.ISpecModels = {
      default: ENV_KERNEL,
      kernelspecs: { [ENV_KERNEL]: spec(ENV_KERNEL, false) }
    };
    const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(String(input), init);
      posted.push({ url: request.url.replace(/[?&]\d{13}$/, ''), method: request.method });
      return answer();
    };
    const context = {
      session: { kernel: { id: 'k1', name: kernelName } },
      specsManager: {
        specs,
        serverSettings: ServerConnection.makeSettings({
          baseUrl: BASE,
          fetch: fetchMock as typeof fetch
        }),
        refreshSpecs: jest.fn(async () => {
          if (--specPolls <= 0) {
            specs.kernelspecs[BUILD_KERNEL] = spec(BUILD_KERNEL, true);
          }
        })
      },
      kernelChanged: new Signal<unknown, unknown>({}),
      statusChanged: new Signal<unknown, string>({}),
      changeKernel: jest.fn(async ({ name }: { name: string }) => {
        context.session.kernel = { id: `k-${name}`, name };
        context.kernelChanged.emit({});
        return null;
      })
    };
    return context;
  }

  const ok = (data: unknown, status = 200) =>
    new Response(JSON.stringify({ status: 'ok', data, message: null }), { status });
  const refused = (message: string, status: number) =>
    new Response(JSON.stringify({ status: 'error', message }), { status });

  const api = {
    getEnvironment: () => Promise.resolve(env(1, 'default', 'demo', build(15, 1, 'COMPLETED'))),
    getBuild: (id: number) => Promise.resolve(builds.find(b => b.id === id)!)
  } as unknown as ICondaStoreAPI;

  /** The bar of a notebook recorded on build 12 of default/demo, whose current build is 15. */
  async function bar(kernelName = ENV_KERNEL) {
    session = fakeNotebookSession(kernelName);
    const m = new FakeModel();
    m.metadata[RECORD_KEY] = recordOf(12);
    const item = new RecordStatusItem({
      model: m,
      api,
      environments: null,
      commands: { execute: () => Promise.resolve() },
      sessionContext: session as unknown as ISessionContext,
      kernelInterval: 1,
      kernelTimeout: 200
    });
    await flush();
    return item;
  }

  const button = (item: RecordStatusItem, name: string) =>
    item.node.querySelector<HTMLButtonElement>(`.jp-CondaStore-recordStatus-${name}`)!;

  beforeEach(() => {
    posted = [];
    specPolls = 3;
    builds = [];
    answer = () => ok({ kernel_name: BUILD_KERNEL, build_id: 12, restoring: false });
  });

  it('offers to run on the recorded build beside Compare', async () => {
    const item = await bar();
    expect(item.node.textContent).toContain('Recorded on build 12 · current is 15');
    expect(button(item, 'run').hidden).toBe(false);
    expect(button(item, 'run').textContent).toBe('Run on build 12');
    expect(button(item, 'move').hidden).toBe(true);
    expect(button(item, 'compare').hidden).toBe(false);
    item.dispose();
  });

  it('asks for the build’s kernel, waits for its spec, then changes the notebook’s kernel', async () => {
    const item = await bar();
    const running = item.runOnRecordedBuild();
    await flush();
    expect(item.node.textContent).toContain('Starting a kernel on build 12…');
    expect(button(item, 'run').hidden).toBe(true);
    await running;
    expect(posted).toEqual([{ url: `${BASE}conda-store/api/v1/build/12/kernel/`, method: 'POST' }]);
    expect(session.specsManager.refreshSpecs).toHaveBeenCalledTimes(3);
    expect(session.changeKernel).toHaveBeenCalledTimes(1);
    expect(session.changeKernel).toHaveBeenCalledWith({ name: BUILD_KERNEL });
    // Now on the recorded build: the bar says so, and offers the current one.
    expect(item.node.textContent).toContain('Running on the recorded build 12 (current is 15)');
    expect(button(item, 'run').hidden).toBe(true);
    expect(button(item, 'move').hidden).toBe(false);
    item.dispose();
  });

  it('says the build is being restored while it is', async () => {
    answer = () => ok({ kernel_name: BUILD_KERNEL, build_id: 12, restoring: true });
    specPolls = 20;
    builds = [{ ...build(12, 1, 'BUILDING'), collected_on: '2025-01-01T00:00:00' }];
    const item = await bar();
    const running = item.runOnRecordedBuild();
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(item.node.textContent).toContain('Restoring build 12…');
    builds = [{ ...build(12, 1, 'COMPLETED'), collected_on: null }];
    await running;
    expect(session.changeKernel).toHaveBeenCalledWith({ name: BUILD_KERNEL });
    expect(item.node.textContent).toContain('Running on the recorded build 12');
    item.dispose();
  });

  it('shows the server’s refusal, and can try again', async () => {
    answer = () => refused('Not enough space to restore build 12 (quota full).', 507);
    const item = await bar();
    await item.runOnRecordedBuild();
    expect(item.node.textContent).toContain(
      'Could not run on build 12: Not enough space to restore build 12 (quota full).'
    );
    expect(item.hasClass('jp-mod-error')).toBe(true);
    expect(session.changeKernel).not.toHaveBeenCalled();
    expect(button(item, 'run').hidden).toBe(false);
    answer = () => ok({ kernel_name: BUILD_KERNEL, build_id: 12, restoring: false });
    button(item, 'run').click();
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(session.changeKernel).toHaveBeenCalledWith({ name: BUILD_KERNEL });
    expect(item.hasClass('jp-mod-error')).toBe(false);
    item.dispose();
  });

  it('ends the wait when the restore fails, or the kernel never appears', async () => {
    answer = () => ok({ kernel_name: BUILD_KERNEL, build_id: 12, restoring: true });
    specPolls = Infinity;
    builds = [{ ...build(12, 1, 'FAILED'), status_info: 'the channel is gone' }];
    const item = await bar();
    await item.runOnRecordedBuild();
    expect(item.node.textContent).toContain(
      'Could not run on build 12: its restore failed: the channel is gone'
    );
    answer = () => ok({ kernel_name: BUILD_KERNEL, build_id: 12, restoring: false });
    await item.runOnRecordedBuild();
    expect(item.node.textContent).toContain(
      'Could not run on build 12: its kernel did not appear within 0.2 s.'
    );
    expect(session.changeKernel).not.toHaveBeenCalled();
    item.dispose();
  });

  it('moves a notebook on the recorded build to the environment’s kernel', async () => {
    const item = await bar(BUILD_KERNEL);
    expect(item.onRecordedBuild).toBe(true);
    expect(item.node.textContent).toContain('Running on the recorded build 12 (current is 15)');
    button(item, 'move').click();
    await flush();
    expect(session.changeKernel).toHaveBeenCalledWith({ name: ENV_KERNEL });
    // On the current build, the record still says 12 until the next save.
    expect(item.node.textContent).toContain('Recorded on build 12 · current is 15');
    expect(button(item, 'run').hidden).toBe(false);
    item.dispose();
  });

  it('names the environment’s own kernel beside a build’s', () => {
    const record = recordOf(12);
    const specs: KernelSpec.ISpecModels = {
      default: ENV_KERNEL,
      kernelspecs: {
        [BUILD_KERNEL]: spec(BUILD_KERNEL, true),
        'conda-store-default--demo-ir': spec('conda-store-default--demo-ir', false),
        [ENV_KERNEL]: spec(ENV_KERNEL, false)
      }
    };
    expect(environmentKernelName(specs, record, BUILD_KERNEL)).toBe(ENV_KERNEL);
    expect(environmentKernelName(null, record, BUILD_KERNEL)).toBe(ENV_KERNEL);
    // Renamed apart on the server (two names that differ only in case): its spec says which.
    const renamed: KernelSpec.ISpecModels = {
      default: ENV_KERNEL,
      kernelspecs: { 'conda-store-default--demo-1a2b3c': spec('x', false) }
    };
    expect(environmentKernelName(renamed, record, BUILD_KERNEL)).toBe(
      'conda-store-default--demo-1a2b3c'
    );
  });

  it('counts a stale environment kernel on the recorded build as not pinned to it', async () => {
    const kernels: IRunningKernel[] = [
      {
        kernel_id: 'k1',
        kernel_name: ENV_KERNEL,
        namespace: 'default',
        environment: 'demo',
        build_id: 12,
        current_build_id: 15,
        stale: true
      }
    ];
    const running = new RunningKernels({ runningKernels: () => Promise.resolve(kernels) }, 60_000);
    running.watch({ watching: true }); // a notebook on a store kernel: the kernels are polled
    await running.refresh();
    session = fakeNotebookSession(ENV_KERNEL);
    const m = new FakeModel();
    m.metadata[RECORD_KEY] = recordOf(12);
    const item = new RecordStatusItem({
      model: m,
      api,
      environments: null,
      commands: null,
      running,
      sessionContext: session as unknown as ISessionContext
    });
    await flush();
    expect(item.onRecordedBuild).toBe(false);
    expect(button(item, 'run').hidden).toBe(false);
    kernels[0] = { ...kernels[0], kernel_name: BUILD_KERNEL, stale: false };
    await running.refresh();
    await flush();
    expect(item.onRecordedBuild).toBe(true);
    expect(item.node.textContent).toContain('Running on the recorded build 12');
    item.dispose();
    running.dispose();
  });
});
