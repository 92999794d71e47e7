import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { CondaStoreAPI } from './api';
import type { BuildStatus, IEnvironment, INamespace, INamespaceUsage } from './models';
import type { CondaStoreError } from './request';

/** Plugin IDs, command IDs and DOM ids shared by the plugins and the UI tests. */
export const PLUGIN_ID = '@conda-store-jupyter/labextension:plugin';
export const SIDEBAR_ID = 'jp-CondaStore-sidebar';

export namespace CommandIDs {
  export const openPanel = 'conda-store:open-panel';
  export const refresh = 'conda-store:refresh';
  export const newEnvironment = 'conda-store:new-environment';
  export const newNamespace = 'conda-store:new-namespace';
  export const openEnvironment = 'conda-store:open-environment';
  export const exportEnvironment = 'conda-store:export-environment';
  export const copyEnvironment = 'conda-store:copy-environment';
  export const renameEnvironment = 'conda-store:rename-environment';
  export const importEnvironments = 'conda-store:import-environments';
  export const exportNamespace = 'conda-store:export-namespace';
}

/** The typed API client: every public member of `CondaStoreAPI`. */
export type ICondaStoreAPI = { [K in keyof CondaStoreAPI]: CondaStoreAPI[K] };

export const ICondaStoreAPI = new Token<ICondaStoreAPI>(
  '@conda-store-jupyter/labextension:ICondaStoreAPI',
  'Client of the conda-store-jupyter REST API.'
);

/** What the sidebar shows for one environment: its state in one word. */
export type EnvironmentState = 'ready' | 'building' | 'queued' | 'failed' | 'canceled' | 'empty';

export interface IEnvironmentEntry {
  environment: IEnvironment;
  state: EnvironmentState;
  /** The build that is queued or building, if any. */
  activeBuildId: number | null;
  activeStatus: BuildStatus | null;
  /** Whether a completed build is in use: an environment being rebuilt stays usable. */
  usable?: boolean;
  /** A queued build's 1-based place in the store's queue, when the server says. */
  queuePosition?: number | null;
  /** A short sentence explaining the state (for tooltips and screen readers). */
  detail: string;
}

/** A search asked of the server: its word, and the first matches (`count` in all). */
export interface ISearchState {
  query: string;
  loading: boolean;
  count: number;
  hits: IEnvironment[];
}

/**
 * The namespaces and environments the user can read, with a state per environment, refreshed
 * live while something builds and quiet otherwise. Shared by the sidebar and the views.
 */
export interface IEnvironmentsModel {
  readonly changed: ISignal<IEnvironmentsModel, void>;
  readonly namespaces: ReadonlyArray<INamespace>;
  readonly entries: ReadonlyArray<IEnvironmentEntry>;
  readonly loaded: boolean;
  readonly error: CondaStoreError | Error | null;
  readonly version: string | null;
  /** True while any build is queued or running. */
  readonly building: boolean;
  /** When the last refresh succeeded (null before the first). */
  readonly updated?: Date | null;
  /** Milliseconds between refreshes when nothing builds; 0: only on demand. */
  readonly idleInterval?: number;
  /** The environments whose current build has every package named (asked of the server). */
  withPackages?(packages: string[]): Promise<IEnvironment[]>;
  /**
   * Whether someone looks at it (the sidebar is visible): it refreshes when this turns true, and
   * polls only while it is true.
   */
  active: boolean;
  /** Refresh now, whatever the polling state; resolves when done. */
  refresh(): Promise<void>;
  entry(namespace: string, name: string): IEnvironmentEntry | undefined;
  /**
   * Every environment is loaded (a small store): filters need not ask the server. When false,
   * only expanded namespaces and search matches are in `entries`. Absent: true.
   */
  readonly complete?: boolean;
  /** The server search under way or done (a large store); null when none. */
  readonly search?: ISearchState | null;
  /** Whether a namespace is expanded (its environments loaded and kept fresh). */
  isExpanded?(namespace: string): boolean;
  /** Expanded, its environments still loading. */
  isLoading?(namespace: string): boolean;
  /** Expand (loading its environments if needed) or collapse a namespace. */
  expand?(namespace: string, open: boolean): void;
  /** Ask the server for environments whose name has the words (a large store); '' to stop. */
  find?(query: string): Promise<void>;
  /** What the namespace uses on disk (and of its quota); undefined when not known. */
  usage?(namespace: string): INamespaceUsage | undefined;
}

export const IEnvironmentsModel = new Token<IEnvironmentsModel>(
  '@conda-store-jupyter/labextension:IEnvironmentsModel',
  'The namespaces and environments of the conda-store, refreshed live while builds run.'
);
