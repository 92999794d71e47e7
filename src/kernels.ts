import { KernelSpec, KernelSpecAPI, ServerConnection } from '@jupyterlab/services';

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
    if (metadata?.namespace === namespace && metadata?.environment === environment) {
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
