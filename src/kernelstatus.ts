import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel } from '@jupyterlab/services';
import { DisposableDelegate } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { IRunningKernel } from './api';
import { isStoreKernel } from './kernels';
import { BuildRecords, NotebookRecorder, RecordStatusItem } from './record';
import { ICondaStoreAPI, IEnvironmentsModel } from './tokens';

/** How often the running kernels are asked for while a notebook runs an environment's kernel. */
export const KERNEL_STATUS_INTERVAL = 5000;

/** How long a restarted kernel may take to say it is ready before its connection is reopened. */
const RESTART_SETTLE_TIME = 3000;

/** What a notebook's item needs of the running kernels. */
export interface IKernelWatcher {
  /** Whether its notebook's kernel is an environment's kernel (then the kernels are polled). */
  readonly watching: boolean;
}

/**
 * The running kernels of the store's environments (GET kernels/), shared by every notebook: one
 * request per interval whatever the number of notebooks, and none while no notebook runs an
 * environment's kernel or the page is hidden.
 */
export class RunningKernels {
  constructor(
    private readonly _api: Pick<ICondaStoreAPI, 'runningKernels'>,
    interval = KERNEL_STATUS_INTERVAL
  ) {
    this._poll = new Poll({
      name: 'conda-store:running-kernels',
      factory: () => this._fetch(),
      frequency: { interval, backoff: true, max: 10 * interval },
      standby: () => (this._watching() ? 'when-hidden' : true)
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The last answer about one kernel. */
  get(kernelId: string | undefined): IRunningKernel | undefined {
    return kernelId ? this._kernels.get(kernelId) : undefined;
  }

  /** Count `watcher` in (while it is `watching`, the kernels are polled); returns the undo. */
  watch(watcher: IKernelWatcher): () => void {
    this._watchers.add(watcher);
    return () => this._watchers.delete(watcher);
  }

  /** Ask now (several calls close together make one request). */
  async refresh(): Promise<void> {
    if (this._poll.isDisposed) {
      return;
    }
    if (this._poll.state.phase === 'constructed') {
      await this._poll.start();
    } else {
      await this._poll.refresh();
    }
    await this._poll.tick.catch(() => undefined);
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _watching(): boolean {
    return [...this._watchers].some(watcher => watcher.watching);
  }

  private async _fetch(): Promise<void> {
    const kernels = await this._api.runningKernels();
    const next = new Map(kernels.map(kernel => [kernel.kernel_id, kernel]));
    if (JSON.stringify([...next]) !== JSON.stringify([...this._kernels])) {
      this._kernels = next;
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _kernels = new Map<string, IRunningKernel>();
  private readonly _poll: Poll;
  private readonly _watchers = new Set<IKernelWatcher>();
}

/** What the item says of a kernel on an older build than its environment's current one. */
export function staleText(kernel: IRunningKernel): { text: string; button: string } | null {
  if (!kernel.stale || kernel.build_id === null || kernel.current_build_id === null) {
    return null;
  }
  return {
    text: `Kernel on build ${kernel.build_id} (environment now at build ${kernel.current_build_id})`,
    button: `Restart on build ${kernel.current_build_id}`
  };
}

/**
 * A notebook's bar, hidden unless the notebook's kernel runs an older build of its
 * environment than the current one: then it says which builds, and restarts the kernel on the
 * current build (the kernel spec follows the environment, so a restart runs its current build).
 */
export class KernelStatusItem extends Widget implements IKernelWatcher {
  constructor(
    private readonly _sessionContext: ISessionContext,
    private readonly _running: RunningKernels
  ) {
    super({ node: document.createElement('div') });
    this.addClass('jp-CondaStore-kernelStatus');
    this.node.setAttribute('aria-live', 'polite');
    this._text.className = 'jp-CondaStore-kernelStatus-text';
    this._button.className = 'jp-CondaStore-kernelStatus-restart';
    this._button.type = 'button';
    this._button.title = "Restart the kernel on the environment's current build";
    this._button.addEventListener('click', () => void this.restart());
    this.node.append(this._text, this._button);
    this.hide();
    this._unwatch = _running.watch(this);
    _running.changed.connect(this._render, this);
    _sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    _sessionContext.statusChanged.connect(this._onStatus, this);
    if (this.watching) {
      void _running.refresh().then(() => this._render());
    }
  }

  /** Whether the notebook's kernel is one of an environment's (by its kernel spec). */
  get watching(): boolean {
    return isStoreKernel(this._sessionContext, this._running);
  }

  /** Restart the notebook's kernel: it starts on the environment's current build. */
  async restart(): Promise<void> {
    this.hide();
    this._restarting = true;
    try {
      await this._sessionContext.restartKernel();
      await this._settle();
    } finally {
      this._restarting = false;
      await this._running.refresh();
      this._render();
    }
  }

  /**
   * A notebook's connection can stay "Starting" after a restart (the kernel's first status went
   * out before the connection was back; JupyterLab's own restart button shows it too): if the
   * kernel has not said it is ready within a few seconds, connect again, which asks it.
   */
  private async _settle(timeout = RESTART_SETTLE_TIME): Promise<void> {
    const kernel = this._sessionContext.session?.kernel;
    const ready = () => kernel?.status === 'idle' || kernel?.status === 'busy';
    for (let waited = 0; kernel && !ready() && waited < timeout; waited += 250) {
      await new Promise(resolve => setTimeout(resolve, 250));
    }
    if (kernel && !kernel.isDisposed && !ready()) {
      await kernel.reconnect();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._unwatch();
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  private _onKernelChanged(): void {
    this.hide();
    if (this.watching) {
      void this._running.refresh().then(() => this._render());
    }
  }

  private _onStatus(_: ISessionContext, status: Kernel.Status): void {
    // A (re)start hides the item until the kernel is back and the server was asked again:
    // only then is it known which build the kernel runs now.
    if (status === 'restarting' || status === 'autorestarting' || status === 'starting') {
      this._started = true;
      this.hide();
    } else if (status === 'idle' && this._started) {
      this._started = false;
      void this._running.refresh().then(() => this._render());
    }
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const kernel = this._running.get(this._sessionContext.session?.kernel?.id);
    const stale = kernel && !this._restarting && !this._started ? staleText(kernel) : null;
    if (!stale) {
      this.hide();
      return;
    }
    this._text.textContent = stale.text;
    this._button.textContent = stale.button;
    this.show();
  }

  private _button = document.createElement('button');
  private _restarting = false;
  private _started = false;
  private _text = document.createElement('span');
  private readonly _unwatch: () => void;
}

/** Where the item goes: a bar between the notebook's toolbar and its cells. */
interface IContentHeader {
  addWidget(widget: Widget): void;
}

/**
 * The items in every notebook (a widget extension of the Notebook widget factory), in the bar
 * above the cells rather than in the toolbar: a toolbar too narrow for its items moves the last
 * ones into its "…" menu, and these say something only while they are shown. Each notebook also
 * records, as it is saved, the build its kernel runs (record.ts).
 */
export function addKernelStatus(
  app: JupyterFrontEnd,
  api: ICondaStoreAPI,
  environments: IEnvironmentsModel | null
): RunningKernels {
  const running = new RunningKernels(api);
  const records = new BuildRecords(api);
  // The panel changed an environment (made a build current...): ask now, not at the next tick.
  environments?.changed.connect(() => void running.refresh());
  app.docRegistry.addWidgetExtension('Notebook', {
    createNew: (widget, context) => {
      const recorder = new NotebookRecorder(context, running, records);
      const header = (widget as Widget & { contentHeader?: Partial<IContentHeader> }).contentHeader;
      if (typeof header?.addWidget !== 'function') {
        return recorder;
      }
      const item = new KernelStatusItem(context.sessionContext, running);
      const recordItem = new RecordStatusItem({
        model: context.model,
        sessionContext: context.sessionContext,
        api,
        environments,
        commands: app.commands,
        running,
        ready: context.ready
      });
      header.addWidget(item);
      header.addWidget(recordItem);
      return new DisposableDelegate(() => {
        recorder.dispose();
        recordItem.dispose();
        item.dispose();
      });
    }
  });
  return running;
}

/**
 * Notebooks whose kernel runs an older build of its environment say so, and restart on the
 * current build; notebooks record the build they ran on, and say when it is no longer current.
 */
export const kernelStatusPlugin: JupyterFrontEndPlugin<void> = {
  id: '@conda-store-jupyter/labextension:kernel-status',
  description:
    'Tells a notebook whose kernel runs an older build of its environment; records the build in the notebook.',
  autoStart: true,
  requires: [ICondaStoreAPI],
  optional: [IEnvironmentsModel],
  activate: (
    app: JupyterFrontEnd,
    api: ICondaStoreAPI,
    environments: IEnvironmentsModel | null
  ): void => {
    addKernelStatus(app, api, environments);
  }
};
