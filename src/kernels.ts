import type { ISessionContext } from '@jupyterlab/apputils';
import { KernelSpec, KernelSpecAPI, ServerConnection } from '@jupyterlab/services';

import { ChangeNotifier } from './signals';

/** What the server writes in a kernel spec's `metadata.conda_store`. */
export interface ICondaStoreKernelMetadata {
  managed_by?: string;
  namespace: string;
  environment: string;
  environment_id?: number;
  build_id?: number;
}

export interface IEnvironmentKernel {
  /** The kernel spec name, e.g. `conda-store-default--demo`. */
  name: string;
  displayName: string;
  buildId: number | null;
}

/** The kernel spec of an environment among the specs the server lists, if it has one. */
export function findKernel(
  specs: KernelSpec.ISpecModels | null | undefined,
  namespace: string,
  environment: string
): IEnvironmentKernel | null {
  for (const [name, spec] of Object.entries(specs?.kernelspecs ?? {})) {
    const metadata = (spec?.metadata as { conda_store?: ICondaStoreKernelMetadata } | undefined)
      ?.conda_store;
    // A kernel of one build (asked for by a notebook recorded on it) is not the environment's.
    const pinned = (metadata as { pinned?: boolean } | undefined)?.pinned === true;
    if (!pinned && metadata?.namespace === namespace && metadata?.environment === environment) {
      return {
        name,
        displayName: spec?.display_name ?? name,
        buildId: typeof metadata.build_id === 'number' ? metadata.build_id : null
      };
    }
  }
  return null;
}

/**
 * Ask the server for its kernel specs and find the environment's kernel. The server is asked
 * directly (the manager's own poll may stand by); when the kernel is new to the manager, the
 * manager refreshes too, so notebooks and consoles know it when they start it.
 */
export async function lookUpKernel(
  manager: KernelSpec.IManager,
  namespace: string,
  environment: string
): Promise<IEnvironmentKernel | null> {
  const settings: ServerConnection.ISettings = manager.serverSettings;
  const specs = await KernelSpecAPI.getSpecs(settings);
  const found = findKernel(specs, namespace, environment);
  const known = findKernel(manager.specs, namespace, environment);
  if (found && (!known || known.buildId !== found.buildId)) {
    await manager.refreshSpecs();
  }
  return found;
}

/**
 * The kernel of one environment: looked up on the server when asked (`check`), and followed
 * as the kernel spec manager refreshes on its own.
 */
export class EnvironmentKernelModel extends ChangeNotifier {
  constructor(
    private readonly _manager: KernelSpec.IManager | null,
    readonly namespace: string,
    readonly environment: string
  ) {
    super();
    this._manager?.specsChanged.connect(this._onSpecsChanged, this);
  }

  get kernel(): IEnvironmentKernel | null {
    return this._kernel;
  }

  /** Whether it was looked up at least once. */
  get checked(): boolean {
    return this._checked;
  }

  /**
   * Find the kernel; until it runs on the `expected` build (null: any), retry `retries` times
   * while the server registers it (a build that just completed gets its kernel within a second or
   * so).
   */
  async check(expected: () => number | null, retries = 0): Promise<void> {
    if (!this._manager || this.isDisposed) {
      return;
    }
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        this._kernel = await lookUpKernel(this._manager, this.namespace, this.environment);
      } catch {
        this._kernel = null;
      }
      const build = expected();
      const fresh = this._kernel && (build === null || this._kernel.buildId === build);
      if (fresh || attempt === retries || this.isDisposed) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 500 * (attempt + 1)));
    }
    this._checked = true;
    this.emitChanged();
  }

  private _onSpecsChanged(): void {
    // The manager refreshed on its own: look again without asking the server.
    const found = this._manager
      ? findKernel(this._manager.specs, this.namespace, this.environment)
      : null;
    if (found && JSON.stringify(found) !== JSON.stringify(this._kernel)) {
      this._kernel = found;
      this._checked = true;
      this.emitChanged();
    }
  }

  private _checked = false;
  private _kernel: IEnvironmentKernel | null = null;
}

/** Whether a session's kernel is one of an environment's (by its kernel spec, or the server says). */
export function isStoreKernel(
  sessionContext: Pick<ISessionContext, 'session' | 'specsManager'>,
  running: { get(kernelId: string | undefined): unknown }
): boolean {
  const kernel = sessionContext.session?.kernel;
  const spec = kernel?.name
    ? sessionContext.specsManager?.specs?.kernelspecs[kernel.name]
    : undefined;
  return (
    !!(spec?.metadata as { conda_store?: unknown } | undefined)?.conda_store ||
    !!running.get(kernel?.id)
  );
}
