import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel } from '@jupyterlab/services';
import type { CommandRegistry } from '@lumino/commands';
import { JSONExt, PartialJSONValue } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { IBuildRecord } from './api';
import { isStoreKernel } from './kernels';
import type { IKernelWatcher, RunningKernels } from './kernelstatus';
import { CondaStoreError } from './request';
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

export interface IRecordStatusOptions {
  /** The notebook's model, whose metadata holds the record. */
  model: unknown;
  api: Pick<ICondaStoreAPI, 'getEnvironment'>;
  /** Asked first for the environment's current build (no request when it holds it). */
  environments: IEnvironmentsModel | null;
  /** Runs the comparison (the panel's open-environment command). */
  commands: Pick<CommandRegistry, 'execute'> | null;
  /** Its changes (a kernel moved to another build) make it look again. */
  running?: RunningKernels | null;
  /** The document's content is loaded (its metadata with it). */
  ready?: Promise<void>;
}

/**
 * A notebook's bar, beside the kernel's: hidden unless the notebook records a build other than
 * its environment's current one (then it says which, and compares them in the panel), or an
 * environment that no longer exists.
 */
export class RecordStatusItem extends Widget {
  constructor(private readonly _options: IRecordStatusOptions) {
    super({ node: document.createElement('div') });
    this.addClass('jp-CondaStore-recordStatus');
    this.node.setAttribute('aria-live', 'polite');
    this._text.className = 'jp-CondaStore-recordStatus-text';
    this._button.className = 'jp-CondaStore-recordStatus-compare';
    this._button.type = 'button';
    this._button.textContent = 'Compare';
    this._button.addEventListener('click', () => void this.compare());
    this.node.append(this._text, this._button);
    this.hide();
    this._model = notebookModel(_options.model);
    this._model?.metadataChanged?.connect(this._onMetadataChanged, this);
    _options.environments?.changed.connect(this._onEnvironmentsChanged, this);
    _options.running?.changed.connect(() => void this.check(), this);
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

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.disconnectReceiver(this);
    super.dispose();
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
    const record = this.record;
    const shown = record ? recordDifference(record, this._current) : null;
    if (!shown) {
      this.hide();
      return;
    }
    this._text.textContent = shown.text;
    this.node.title = shown.title;
    this._button.hidden = shown.compareWith === null || !this._options.commands;
    this._button.title = `Compare build ${record!.build_id} with the current build ${shown.compareWith}`;
    this.show();
  }

  private _asked = 0;
  private _checking: { key: string; done: Promise<void> } | null = null;
  private _button = document.createElement('button');
  private _current: CurrentBuild | undefined = undefined;
  private _serverAnswered = false;
  private readonly _model: IRecordModel | null;
  private _text = document.createElement('span');
}
