/**
 * The API's models as they travel on the wire (see conda_store_jupyter/api_models.py).
 * Datetimes are ISO 8601 in UTC without a zone suffix.
 */

export type BuildStatus = 'QUEUED' | 'BUILDING' | 'COMPLETED' | 'FAILED' | 'CANCELED';

/** Statuses of a build that is still going: more log lines and a status change will come. */
export const ACTIVE_STATUSES: ReadonlyArray<BuildStatus> = ['QUEUED', 'BUILDING'];

export function isActive(status: BuildStatus | undefined | null): boolean {
  return !!status && ACTIVE_STATUSES.includes(status);
}

export type ArtifactKind = 'lockfile' | 'yaml' | 'explicit' | 'archive' | 'logs';

export interface INamespace {
  id: number;
  name: string;
  metadata_: Record<string, unknown>;
  role_mappings: unknown[];
}

/** A conda environment specification as stored (after the server's policies). */
export interface IEnvironmentSpec {
  name: string;
  channels?: string[];
  dependencies?: Array<string | { pip: string[] }>;
  variables?: Record<string, string>;
  description?: string;
  [key: string]: unknown;
}

/** A conda-lock specification as stored: the environment's name and the lock file. */
export interface ILockfileSpec {
  name: string;
  lockfile: Record<string, unknown>;
}

export interface ISpecification {
  id: number;
  name: string;
  spec: IEnvironmentSpec | ILockfileSpec;
  sha256: string;
  is_lockfile: boolean;
  created_on: string | null;
}

export interface IBuildArtifact {
  id: number;
  artifact_type: string;
  key: string;
}

export interface IBuild {
  id: number;
  environment_id: number;
  specification: ISpecification | null;
  packages: null;
  status: BuildStatus;
  status_info: string | null;
  size: number;
  scheduled_on: string | null;
  started_on: string | null;
  ended_on: string | null;
  build_artifacts: IBuildArtifact[];
  /** A queued build's 1-based place in the store's queue (null or absent otherwise). */
  queue_position?: number | null;
  /** A failed build's solver complaints, placed at the specification's lines (GET build/{id}/). */
  problems?: ISpecProblem[];
  /**
   * When garbage collection removed its prefix and large artifacts (its log, lock file and
   * specification stay); null once restored. Absent from older servers.
   */
  collected_on?: string | null;
}

/** Garbage collection removed the build's prefix (it stays so while it is being restored). */
export function isCollected(build: IBuild | null | undefined): boolean {
  return !!build?.collected_on;
}

/** A collected build being reinstalled from its lock file (queued or building). */
export function isRestoring(build: IBuild | null | undefined): boolean {
  return isCollected(build) && isActive(build!.status);
}

export interface IEnvironment {
  id: number;
  namespace: INamespace;
  name: string;
  current_build_id: number | null;
  current_build: IBuild | null;
  description: string | null;
  updated_on: string | null;
}

export interface IPackage {
  id: number;
  name: string;
  version: string;
  build: string;
  build_number: number;
  channel: string;
  subdir: string;
  url: string;
  sha256: string | null;
  md5: string | null;
  size: number | null;
  manager: 'conda' | 'pip' | string;
}

export interface IPackageBrief {
  name: string;
  version: string;
  build: string;
  manager: string;
}

export interface IBuildDiff {
  added: IPackageBrief[];
  removed: IPackageBrief[];
  changed: Array<{ name: string; old: IPackageBrief; new: IPackageBrief }>;
}

export interface IPermissions {
  authenticated: boolean;
  username: string;
  primary_namespace: string;
  entity_permissions: Record<string, string[]>;
  entity_roles: Record<string, string[]>;
  expiration: string | null;
}

export interface IChannel {
  id: number;
  name: string;
}

/** One namespace's part of GET usage/. */
export interface INamespaceUsage {
  namespace: string;
  environments: number;
  builds: number;
  /** Bytes of its prefixes on disk (each hard-linked file counted once). */
  bytes: number;
  /** Its quota in bytes; null (or absent, an older server): no quota. */
  quota?: number | null;
  /** Bytes counted against the quota. */
  quota_used?: number;
}

/** GET usage/: the namespaces the caller may read, and the whole store. */
export interface IUsage {
  namespaces: INamespaceUsage[];
  store: {
    bytes: number;
    package_cache_bytes: number;
    free_bytes: number;
    /** Below this many free bytes new builds are refused (0: no check). */
    storage_threshold: number;
  };
}

/** One page of a list answer. */
export interface IPage<T> {
  items: T[];
  page: number;
  size: number;
  count: number;
}

/** The body of POST specification/. */
export interface ISpecificationRequest {
  namespace: string;
  specification: string;
  is_lockfile?: boolean;
  environment_name?: string;
  environment_description?: string;
}

/** Parse the API's UTC datetimes (no zone suffix) as UTC. */
export function parseDate(value: string | null | undefined): Date | null {
  if (!value) {
    return null;
  }
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const date = new Date(withZone);
  return isNaN(date.getTime()) ? null : date;
}

/** What the validate route checks: a specification's text and/or the names it would get. */
export interface IValidateRequest {
  /** The YAML text of a specification or a conda-lock file. */
  specification?: string;
  is_lockfile?: boolean;
  namespace?: string;
  environment_name?: string;
  /** Also solve it (a dry run: nothing is installed); slower. */
  solve?: boolean;
}

/** One problem the server found; `line` and `column` are 1-based. */
export interface ISpecProblem {
  message: string;
  line: number | null;
  column: number | null;
  path: Array<string | number>;
  field: 'specification' | 'namespace' | 'environment_name';
  /** Names the channels have that are close to an unknown one. */
  suggestions?: string[];
  /** More of the solver's explanation. */
  detail?: string;
}

/** A package a solve would install. */
export interface ISolvedPackage {
  name: string;
  version: string;
  build: string;
  channel: string;
  /** True when the specification names it (else it comes as a dependency). */
  requested: boolean;
  /** The specification's entry asking for it. */
  requested_as: string | null;
}

/** The validate route's answer: nothing was written. */
export interface IValidation {
  valid: boolean;
  problems: ISpecProblem[];
  /** The name the specification gives, when it has one. */
  name: string | null;
  /** With `solve`: whether it was solved, and what would be installed. */
  solved?: boolean;
  packages?: ISolvedPackage[];
}
