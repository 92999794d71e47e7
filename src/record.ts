import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelSpec } from '@jupyterlab/services';
import { ServerConnection } from '@jupyterlab/services';
import type { CommandRegistry } from '@lumino/commands';
import { JSONExt, PartialJSONValue } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { IBuildRecord } from './api';
import { ICondaStoreKernelMetadata, isStoreKernel } from './kernels';
import type { IKernelWatcher, RunningKernels } from './kernelstatus';
import { CondaStoreError, requestAPI } from './request';
import { CommandIDs, ICondaStoreAPI, IEnvironmentsModel } from './tokens';

/** The key of a notebook's metadata that holds the record of the build it ran on. */
export const RECORD_KEY = 'conda_store';

/**
 * The records of builds, fetched once each and shared by every notebook: a completed build's
 * record never changes.
 */
export class BuildRecords {
  constructor(private readonly _api: Pick<ICondaStoreAPI, 'buildRecord'>) {}

  /** The record of build `id`, if it was fetched. */
  get(id: number): IBuildRecord | undefined {
    return this._records.get(id);
  }

  /**
   * Fetch the record of build `id` (calls while it is on its way share the request); null when
   * it cannot be had (asked again on the next call: a 409 build may complete).
   */
  fetch(id: number): Promise<IBuildRecord | null> {
    const known = this._records.get(id);
    if (known) {
      return Promise.resolve(known);
    }
    let pending = this._pending.get(id);
    if (!pending) {
      pending = this._api.buildRecord(id).then(
        record => {
          this._records.set(id, record);
          this._pending.delete(id);
          return record;
        },
        () => {
          this._pending.delete(id);
          return null;
        }
      );
      this._pending.set(id, pending);
    }
    return pending;
  }

  private readonly _pending = new Map<number, Promise<IBuildRecord | null>>();
  private readonly _records = new Map<number, IBuildRecord>();
}

/** What the record needs of a notebook's model (an `INotebookModel` has it). */
export interface IRecordModel {
  getMetadata(key: string): unknown;
  setMetadata(key: string, value: PartialJSONValue): void;
  readonly metadataChanged?: ISignal<unknown, { key: string }>;
}

/** The model as a notebook's, or null when it has no metadata (not a notebook). */
export function notebookModel(model: unknown): IRecordModel | null {
  const candidate = model as Partial<IRecordModel> | null | undefined;
  return typeof candidate?.getMetadata === 'function' &&
    typeof candidate?.setMetadata === 'function'
    ? (candidate as IRecordModel)
    : null;
}

/** What the recorder needs of a notebook's document context. */
export interface IRecordedContext {
  readonly model: unknown;
  /** 'started' is emitted before the content is serialized (DocumentRegistry.Context._save). */
  readonly saveState: ISignal<unknown, string>;
  readonly sessionContext: ISessionContext;
}

/**
 * Writes into a notebook's metadata, as its save starts, the record of the build its kernel
 * runs: the saved file says which build (and lock file) its outputs came from. The record is
 * fetched ahead (a save cannot wait for it); a save before it arrived goes without, and a
 * notebook whose kernel is not an environment's keeps the record it had.
 */
export class NotebookRecorder implements IKernelWatcher, IDisposable {
  constructor(
    private readonly _context: IRecordedContext,
    private readonly _running: RunningKernels,
    private readonly _records: BuildRecords
  ) {
    this._unwatch = _running.watch(this);
    _context.saveState.connect(this._onSaveState, this);
    _running.changed.connect(this._prefetch, this);
    _context.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    _context.sessionContext.statusChanged.connect(this._onStatus, this);
    this._prefetch();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether the notebook's kernel is an environment's (then the running kernels are polled). */
  get watching(): boolean {
    return isStoreKernel(this._context.sessionContext, this._running);
  }

  /**
   * The build the notebook's kernel runs, or null when not known: not an environment's kernel,
   * or (re)starting, when the server's last answer may name the build it ran before.
   */
  get buildId(): number | null {
    if (this._starting) {
      return null;
    }
    const kernel = this._running.get(this._context.sessionContext.session?.kernel?.id);
    return kernel?.build_id ?? null;
  }

  /**
   * Write the record of the kernel's build into the metadata, unless it is there already (no
   * needless dirty state) or not fetched yet (then fetch it for the next save). Returns whether
   * the metadata changed.
   */
  record(): boolean {
    const model = notebookModel(this._context.model);
    const id = this.buildId;
    if (!model || id === null) {
      return false;
    }
    const record = this._records.get(id);
    if (!record) {
      void this._records.fetch(id);
      return false;
    }
    const recorded = (model.getMetadata(RECORD_KEY) ?? null) as PartialJSONValue;
    if (JSONExt.deepEqual(recorded, record as unknown as PartialJSONValue)) {
      return false;
    }
    model.setMetadata(RECORD_KEY, { ...record });
    return true;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._unwatch();
    Signal.disconnectReceiver(this);
  }

  private _onSaveState(_: unknown, state: string): void {
    // Emitted before the content is serialized: the very save carries the record.
    if (state === 'started') {
      this.record();
    }
  }

  private _onKernelChanged(): void {
    if (this.watching) {
      void this._running.refresh().then(() => this._prefetch());
    }
  }

  private _onStatus(_: ISessionContext, status: Kernel.Status): void {
    // A restart keeps the kernel's id but may run another build: unknown until asked again.
    if (status === 'restarting' || status === 'autorestarting' || status === 'starting') {
      this._starting = true;
    } else if (status === 'idle' && this._starting) {
      void this._running.refresh().then(() => {
        this._starting = false;
        this._prefetch();
      });
    }
  }

  /** Fetch the record of the kernel's build now, so that it is there when a save starts. */
  private _prefetch(): void {
    const id = this.buildId;
    if (id !== null && !this._disposed) {
      void this._records.fetch(id);
    }
  }

  private _disposed = false;
  private _starting = false;
  private readonly _unwatch: () => void;
}

/** The part of a record the notebook's bar reads (an older record may hold only this). */
export interface IRecordedBuild {
  namespace: string;
  environment: string;
  build_id: number;
}

/** The record in a notebook's metadata, or null when there is none (or it is not one). */
export function readRecord(value: unknown): IRecordedBuild | null {
  const record = value as Partial<IRecordedBuild> | null | undefined;
  return record &&
    typeof record === 'object' &&
    typeof record.namespace === 'string' &&
    typeof record.environment === 'string' &&
    typeof record.build_id === 'number'
    ? { namespace: record.namespace, environment: record.environment, build_id: record.build_id }
    : null;
}

/** The recorded environment's current build (null: none), or 'deleted' when it is gone. */
export type CurrentBuild = number | null | 'deleted';

/**
 * What the bar says of a record whose environment's current build is `current`: null when there
 * is nothing to say (the recorded build is current, or it is not known which is).
 */
export function recordDifference(
  record: IRecordedBuild,
  current: CurrentBuild | undefined
): { text: string; title: string; compareWith: number | null } | null {
  const name = `${record.namespace}/${record.environment}`;
  if (current === 'deleted') {
    return {
      text: `Recorded on ${name} (deleted)`,
      title: `This notebook was saved on build ${record.build_id} of ${name}, which no longer exists`,
      compareWith: null
    };
  }
  if (typeof current !== 'number' || current === record.build_id) {
    return null;
  }
  return {
    text: `Recorded on build ${record.build_id} · current is ${current}`,
    title: `This notebook was saved on build ${record.build_id} of ${name}; its current build is ${current}`,
    compareWith: current
  };
}

/** The server's answer when asked for the kernel of one build (POST build/{id}/kernel/). */
export interface IBuildKernel {
  /** The kernel spec's name (`conda-store-<ns>--<env>--build-<id>`); it appears in a moment. */
  kernel_name: string;
  build_id: number;
  /** The build was collected: it is reinstalled from its lock file before its kernel appears. */
  restoring: boolean;
}

/**
 * Ask for a kernel spec that runs build `id` itself, not its environment's current build. Here
 * rather than in the API client: only the notebook's bar asks, with its kernel manager's settings.
 */
export async function requestBuildKernel(
  id: number,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IBuildKernel> {
  const body = await requestAPI<IBuildKernel>(
    `build/${encodeURIComponent(String(id))}/kernel/`,
    { method: 'POST' },
    settings
  );
  return body.data as IBuildKernel;
}

/** What a store kernel spec says of itself; `pinned` when it runs one build, not the current. */
type StoreKernelMetadata = ICondaStoreKernelMetadata & { pinned?: boolean };

function storeMetadata(spec: KernelSpec.ISpecModel | undefined): StoreKernelMetadata | null {
  return (spec?.metadata as { conda_store?: StoreKernelMetadata } | undefined)?.conda_store ?? null;
}

/** The suffix the server gives the name of a kernel that runs one build (kernels.py). */
function buildSuffix(id: number): string {
  return `--build-${id}`;
}

/**
 * The environment's own kernel (it runs the current build), seen from `kernelName`, a kernel of
 * its build `record.build_id`: among the environment's kernel specs that are not pinned to a build,
 * the one named like it without the build's suffix (other languages have their own), else the
 * first; when the specs are not known, the name without the suffix.
 */
export function environmentKernelName(
  specs: KernelSpec.ISpecModels | null | undefined,
  record: IRecordedBuild,
  kernelName: string
): string {
  const unpinned = kernelName.replace(buildSuffix(record.build_id), '');
  const names = Object.entries(specs?.kernelspecs ?? {})
    .filter(([, spec]) => {
      const metadata = storeMetadata(spec);
      return (
        metadata?.namespace === record.namespace &&
        metadata.environment === record.environment &&
        !metadata.pinned
      );
    })
    .map(([name]) => name);
  return names.includes(unpinned) ? unpinned : (names[0] ?? unpinned);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How long a build's kernel may take to appear: a collected build is reinstalled first. */
export const BUILD_KERNEL_TIMEOUT = 120_000;

/** How often the kernel specs are asked for while waiting for a build's kernel. */
export const BUILD_KERNEL_INTERVAL = 1000;

/** How many polls of the kernel specs between two looks at a restoring build. */
const RESTORE_CHECK_EVERY = 5;

export interface IRecordStatusOptions {
  /** The notebook's model, whose metadata holds the record. */
  model: unknown;
  /** `getBuild`, when given, ends the wait for a kernel whose build's restore failed. */
  api: Pick<ICondaStoreAPI, 'getEnvironment'> & Partial<Pick<ICondaStoreAPI, 'getBuild'>>;
  /** Asked first for the environment's current build (no request when it holds it). */
  environments: IEnvironmentsModel | null;
  /** Runs the comparison (the panel's open-environment command). */
  commands: Pick<CommandRegistry, 'execute'> | null;
  /** Its changes (a kernel moved to another build) make it look again. */
  running?: RunningKernels | null;
  /** The document's content is loaded (its metadata with it). */
  ready?: Promise<void>;
  /** The notebook's session, whose kernel runs on the recorded build or moves to the current one. */
  sessionContext?: ISessionContext | null;
  /** How long to wait for a build's kernel to appear, and how often to look (milliseconds). */
  kernelTimeout?: number;
  kernelInterval?: number;
}

/**
 * A notebook's bar, beside the kernel's: hidden unless the notebook records a build other than
 * its environment's current one (then it says which, compares them in the panel, and runs the
 * notebook on the recorded build, or back on the current one), or an environment that no
 * longer exists.
 */
export class RecordStatusItem extends Widget {
  constructor(private readonly _options: IRecordStatusOptions) {
    super({ node: document.createElement('div') });
    this.addClass('jp-CondaStore-recordStatus');
    this.node.setAttribute('aria-live', 'polite');
    this._text.className = 'jp-CondaStore-recordStatus-text';
    const button = (className: string, action: () => Promise<void>) => {
      const element = document.createElement('button');
      element.className = className;
      element.type = 'button';
      element.addEventListener('click', () => void action());
      return element;
    };
    this._runButton = button('jp-CondaStore-recordStatus-run', () => this.runOnRecordedBuild());
    this._moveButton = button('jp-CondaStore-recordStatus-move', () => this.moveToCurrent());
    this._moveButton.textContent = 'Move to current';
    this._button = button('jp-CondaStore-recordStatus-compare', () => this.compare());
    this._button.textContent = 'Compare';
    this.node.append(this._text, this._runButton, this._moveButton, this._button);
    this.hide();
    this._model = notebookModel(_options.model);
    this._model?.metadataChanged?.connect(this._onMetadataChanged, this);
    _options.environments?.changed.connect(this._onEnvironmentsChanged, this);
    _options.running?.changed.connect(() => void this.check(), this);
    this._session = _options.sessionContext ?? null;
    this._session?.kernelChanged.connect(this._onKernelChanged, this);
    void this.check();
    void _options.ready?.then(() => this.check());
  }

  /** The record in the notebook's metadata. */
  get record(): IRecordedBuild | null {
    return readRecord(this._model?.getMetadata(RECORD_KEY));
  }

  /** What is known of the recorded environment's current build (undefined: nothing yet). */
  get current(): CurrentBuild | undefined {
    return this._current;
  }

  /**
   * Whether the notebook's kernel is one that runs the recorded build itself: as the running
   * kernels say, else as its kernel spec says (a kernel just started is not listed yet), else by
   * its name. The environment's own kernel started before the current build runs it too, but is
   * stale (a restart moves it on; the kernel's bar says so): not counted.
   */
  get onRecordedBuild(): boolean {
    const record = this.record;
    const session = this._session;
    const kernel = session?.session?.kernel;
    if (!record || !kernel) {
      return false;
    }
    const same = (found: { namespace: string; environment: string; build_id?: number | null }) =>
      found.namespace === record.namespace &&
      found.environment === record.environment &&
      found.build_id === record.build_id;
    const running = this._options.running?.get(kernel.id);
    if (running) {
      return same(running) && !running.stale;
    }
    const metadata = storeMetadata(session?.specsManager?.specs?.kernelspecs[kernel.name]);
    return metadata ? same(metadata) : kernel.name.endsWith(buildSuffix(record.build_id));
  }

  /**
   * Look up the recorded environment's current build, in the environments model when it holds
   * the environment, else on the server (a 404: deleted), and show what differs.
   */
  check(): Promise<void> {
    // The content's load and the metadata it sets both ask: one look per record at a time.
    const record = this.record;
    const key = record ? JSON.stringify(record) : '';
    if (this._checking?.key !== key) {
      const done = this._look(record).finally(() => {
        if (this._checking?.done === done) {
          this._checking = null;
        }
      });
      this._checking = { key, done };
    }
    return this._checking.done;
  }

  /** Open the recorded environment's builds, comparing the recorded build with the current one. */
  async compare(): Promise<void> {
    const record = this.record;
    const shown = record ? recordDifference(record, this._current) : null;
    if (!record || !this._options.commands) {
      return;
    }
    await this._options.commands.execute(CommandIDs.openEnvironment, {
      namespace: record.namespace,
      name: record.environment,
      tab: 'builds',
      buildId: record.build_id,
      ...(shown?.compareWith !== null && shown?.compareWith !== undefined
        ? { compareWith: shown.compareWith }
        : {})
    });
  }

  /**
   * Switch the notebook's kernel to one that runs the recorded build itself: ask the server for
   * it (a collected build is restored first), wait for its kernel spec, then change to it.
   * Progress and errors are said in the bar.
   */
  async runOnRecordedBuild(): Promise<void> {
    const record = this.record;
    const session = this._session;
    if (!record || !session || this._busy) {
      return;
    }
    const id = record.build_id;
    this._error = null;
    this._setBusy(`Starting a kernel on build ${id}…`);
    try {
      const manager = session.specsManager;
      const kernel = await requestBuildKernel(id, manager.serverSettings);
      if (kernel.restoring) {
        this._setBusy(`Restoring build ${id}…`);
      }
      await this._waitForSpec(manager, kernel.kernel_name, kernel.restoring ? id : null);
      this._setBusy(`Starting a kernel on build ${id}…`);
      await session.changeKernel({ name: kernel.kernel_name });
    } catch (error) {
      this._error = `Could not run on build ${id}: ${errorMessage(error)}`;
    } finally {
      this._setBusy(null);
    }
  }

  /**
   * Switch the notebook's kernel from the recorded build's to the environment's own, which runs
   * its current build: the next save records that build.
   */
  async moveToCurrent(): Promise<void> {
    const record = this.record;
    const session = this._session;
    const kernelName = session?.session?.kernel?.name;
    if (!record || !session || !kernelName || this._busy) {
      return;
    }
    const name = environmentKernelName(session.specsManager?.specs, record, kernelName);
    this._error = null;
    this._setBusy(
      typeof this._current === 'number'
        ? `Moving to the current build ${this._current}…`
        : 'Moving to the current build…'
    );
    try {
      await session.changeKernel({ name });
    } catch (error) {
      this._error = `Could not move to the current build: ${errorMessage(error)}`;
    } finally {
      this._setBusy(null);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  /**
   * Poll the kernel specs until `name` is among them (the manager's own refresh, so the
   * notebook's kernel picker knows it too). While build `restoring` is reinstalled, look at it
   * now and then: a failed restore ends the wait with its reason.
   */
  private async _waitForSpec(
    manager: KernelSpec.IManager,
    name: string,
    restoring: number | null
  ): Promise<void> {
    const timeout = this._options.kernelTimeout ?? BUILD_KERNEL_TIMEOUT;
    const interval = this._options.kernelInterval ?? BUILD_KERNEL_INTERVAL;
    const deadline = Date.now() + timeout;
    for (let poll = 0; ; poll++) {
      try {
        await manager.refreshSpecs();
      } catch {
        // A missed answer: the next poll asks again, until the deadline.
      }
      if (manager.specs?.kernelspecs[name]) {
        return;
      }
      if (restoring !== null && poll % RESTORE_CHECK_EVERY === RESTORE_CHECK_EVERY - 1) {
        await this._checkRestore(restoring);
      }
      if (Date.now() >= deadline || this.isDisposed) {
        const waited =
          timeout >= 60_000 ? `${Math.round(timeout / 60_000)} min` : `${timeout / 1000} s`;
        throw new Error(`its kernel did not appear within ${waited}.`);
      }
      await new Promise(resolve => setTimeout(resolve, interval));
    }
  }

  /** Throw the reason when the restore of build `id` failed or was canceled. */
  private async _checkRestore(id: number): Promise<void> {
    const build = await this._options.api.getBuild?.(id).catch(() => null);
    if (build?.status === 'FAILED' || build?.status === 'CANCELED') {
      const reason = build.status_info ? `: ${build.status_info}` : '.';
      throw new Error(
        `its restore ${build.status === 'FAILED' ? 'failed' : 'was canceled'}${reason}`
      );
    }
  }

  private _setBusy(text: string | null): void {
    this._busy = text;
    this._render();
  }

  private async _look(record: IRecordedBuild | null): Promise<void> {
    const asked = ++this._asked;
    let current: CurrentBuild | undefined = undefined;
    let fromServer = false;
    if (record) {
      current = this._fromModel(record);
      if (current === undefined) {
        fromServer = true;
        current = await this._fromServer(record);
      }
    }
    if (asked !== this._asked || this.isDisposed) {
      return; // another look started since
    }
    this._current = current;
    this._serverAnswered = fromServer;
    this._render();
  }

  private _fromModel(record: IRecordedBuild): CurrentBuild | undefined {
    const environments = this._options.environments;
    if (!environments?.loaded) {
      return undefined;
    }
    return environments.entry(record.namespace, record.environment)?.environment.current_build_id;
  }

  private async _fromServer(record: IRecordedBuild): Promise<CurrentBuild | undefined> {
    try {
      const environment = await this._options.api.getEnvironment(
        record.namespace,
        record.environment
      );
      return environment.current_build_id;
    } catch (error) {
      if (error instanceof CondaStoreError && error.status === 404 && !error.isExtensionMissing) {
        return 'deleted';
      }
      return undefined; // not known (no server, no right to read it): say nothing
    }
  }

  private _onKernelChanged(): void {
    // An error was about the kernel it had: the new one is said afresh.
    this._error = null;
    this._render();
  }

  private _onMetadataChanged(_: unknown, change: { key: string }): void {
    if (change?.key === RECORD_KEY) {
      void this.check();
    }
  }

  private _onEnvironmentsChanged(): void {
    const record = this.record;
    const entry = record
      ? this._options.environments?.entry(record.namespace, record.environment)
      : undefined;
    if (entry) {
      if (entry.environment.current_build_id !== this._current) {
        void this.check();
      }
    } else if (record && !this._serverAnswered) {
      // The model no longer holds it (deleted, or a namespace collapsed): ask the server once.
      void this.check();
    }
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const record = this.record;
    const shown = record ? recordDifference(record, this._current) : null;
    if (!record || !shown) {
      this.hide();
      return;
    }
    const current = shown.compareWith;
    // Another build is current (not deleted): the kernel can move between the two.
    const movable = current !== null && !!this._session;
    const onRecorded = movable && this.onRecordedBuild;
    if (this._busy) {
      this._text.textContent = this._busy;
    } else if (this._error) {
      this._text.textContent = this._error;
    } else if (onRecorded) {
      this._text.textContent = `Running on the recorded build ${record.build_id} (current is ${current})`;
    } else {
      this._text.textContent = shown.text;
    }
    const name = `${record.namespace}/${record.environment}`;
    this.node.title =
      this._error && !this._busy
        ? this._error
        : onRecorded
          ? `The kernel runs build ${record.build_id} of ${name}, on which this notebook was saved; its current build is ${current}`
          : shown.title;
    this.toggleClass('jp-mod-error', !!this._error && !this._busy);
    this._runButton.hidden = !movable || onRecorded || !!this._busy;
    this._runButton.textContent = `Run on build ${record.build_id}`;
    this._runButton.title = `Run this notebook on build ${record.build_id}, the build it was saved on`;
    this._moveButton.hidden = !movable || !onRecorded || !!this._busy;
    this._moveButton.title = `Run this notebook on the current build ${current}`;
    this._button.hidden = current === null || !this._options.commands;
    this._button.title = `Compare build ${record.build_id} with the current build ${current}`;
    this.show();
  }

  private _asked = 0;
  private _busy: string | null = null;
  private _checking: { key: string; done: Promise<void> } | null = null;
  private readonly _button: HTMLButtonElement;
  private _current: CurrentBuild | undefined = undefined;
  private _error: string | null = null;
  private readonly _model: IRecordModel | null;
  private readonly _moveButton: HTMLButtonElement;
  private readonly _runButton: HTMLButtonElement;
  private _serverAnswered = false;
  private readonly _session: ISessionContext | null;
  private _text = document.createElement('span');
}
