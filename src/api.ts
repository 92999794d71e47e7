import { ServerConnection } from '@jupyterlab/services';

import {
  ArtifactKind,
  BuildStatus,
  IBuild,
  IBuildDiff,
  IChannel,
  IEnvironment,
  INamespace,
  IPackage,
  IPage,
  IPermissions,
  ISpecificationRequest,
  IUsage,
  IValidateRequest,
  IValidation
} from './models';
import { SSEParser } from './sse';
import { CondaStoreError, QueryValue, apiURL, fetchAPI, requestAPI } from './request';

// The validate route's types live with the other wire types; imported from here too.
export type { ISolvedPackage, ISpecProblem, IValidateRequest, IValidation } from './models';

/** GET / : the service's status. */
export interface IServerStatus {
  version: string;
}

/** What a list call may filter and sort on. */
export interface IListOptions {
  page?: number;
  size?: number;
  sort_by?: string | string[];
  order?: 'asc' | 'desc';
  /**
   * Let the browser's HTTP cache revalidate the answer (If-None-Match, a 304 when unchanged)
   * rather than bypass it as requests do by default (`cache: 'no-store'` plus a time stamp).
   */
  revalidate?: boolean;
}

export interface IEnvironmentQuery extends IListOptions {
  namespace?: string;
  name?: string;
  search?: string;
  status?: BuildStatus;
  packages?: string[];
}

export interface IBuildQuery extends IListOptions {
  namespace?: string;
  name?: string;
  environment_id?: number;
  status?: BuildStatus;
}

/** Callbacks of a live log stream. */
export interface ILogStreamHandlers {
  /** The build's status, at the start and on every change. */
  onStatus?: (status: BuildStatus) => void;
  /** One line of the log; `offset` is the byte offset after it (to resume from). */
  onLine?: (line: string, offset: number | null) => void;
  /** The build reached a final status; the stream ends after this. */
  onEnd?: (status: BuildStatus) => void;
}

export interface ILogStreamOptions {
  /** Byte offset to start from (to resume). */
  offset?: number;
  signal?: AbortSignal;
}

/** A running kernel of one of the store's environments (GET kernels/). */
export interface IRunningKernel {
  kernel_id: string;
  kernel_name: string;
  namespace: string;
  environment: string;
  /** The build it runs; null when not known. */
  build_id: number | null;
  /** The environment's current build; null when the environment was deleted. */
  current_build_id: number | null;
  /** It runs another build than the current one: a restart runs the current one. */
  stale: boolean;
}

/**
 * What a notebook records of the build its kernel ran on (GET build/{id}/record/), written as is
 * in its metadata's `conda_store`: enough to rebuild the very environment from the lock file.
 */
export interface IBuildRecord {
  namespace: string;
  environment: string;
  build_id: number;
  specification_sha256: string;
  lockfile_sha256: string;
  /** The build's conda-lock.yml. */
  lockfile: string;
  store_version: string;
}

/** Where a copy or a rename goes: another namespace, another name, or both. */
export interface IMoveTarget {
  namespace?: string;
  name?: string;
}

/** An environment an import made: its builds' old ids mapped to the new ones. */
export interface IImportedEnvironment {
  namespace: string;
  name: string;
  builds: Record<string, number>;
  current_build_id: number | null;
}

/** An exported archive, with the file name the server gave it. */
export interface IArchive {
  blob: Blob;
  filename: string;
}

/** The file name of a `Content-Disposition: attachment; filename="..."` header, if any. */
export function attachmentName(disposition: string | null): string | null {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition ?? '');
  return match ? decodeURIComponent(match[1]) : null;
}

/** The largest page the API gives. */
export const MAX_PAGE_SIZE = 1000;

/** Typed client of the conda-store REST API, shared by every plugin through a token. */
export class CondaStoreAPI {
  constructor(
    private readonly _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  get serverSettings(): ServerConnection.ISettings {
    return this._settings;
  }

  // -- plumbing ----------------------------------------------------------------------------

  private async _data<T>(
    endPoint: string,
    init: RequestInit = {},
    query?: Record<string, QueryValue>
  ): Promise<T> {
    const body = await requestAPI<T>(endPoint, init, this._settings, query);
    return body.data as T;
  }

  private async _page<T>(
    endPoint: string,
    query: Record<string, QueryValue>,
    init: RequestInit = {}
  ): Promise<IPage<T>> {
    const body = await requestAPI<T[]>(endPoint, init, this._settings, query);
    const items = body.data ?? [];
    return {
      items,
      page: body.page ?? 1,
      size: body.size ?? items.length,
      count: body.count ?? items.length
    };
  }

  private _json(method: string, body: unknown): RequestInit {
    return {
      method,
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    };
  }

  /** A list call's request options: revalidated through the HTTP cache when asked. */
  private static _cache(options: IListOptions): RequestInit {
    return options.revalidate ? { cache: 'no-cache' } : {};
  }

  private static _path(...segments: Array<string | number>): string {
    return segments.map(s => encodeURIComponent(String(s))).join('/') + '/';
  }

  /**
   * The query of a list call: the `filters` of `query`, then its page (of `size` items unless it
   * says otherwise) and order.
   */
  private static _list<Q extends IListOptions>(
    query: Q,
    size: number,
    filters: Array<keyof Q & string> = []
  ): Record<string, QueryValue> {
    const result: Record<string, QueryValue> = {};
    for (const filter of filters) {
      result[filter] = query[filter] as QueryValue;
    }
    const options: IListOptions = { size, ...query };
    return {
      ...result,
      page: options.page,
      size: options.size,
      sort_by: options.sort_by,
      order: options.order
    };
  }

  // -- status ------------------------------------------------------------------------------

  async status(): Promise<IServerStatus> {
    return this._data<IServerStatus>('');
  }

  async permissions(): Promise<IPermissions> {
    return this._data<IPermissions>('permission/');
  }

  // -- namespaces --------------------------------------------------------------------------

  async listNamespaces(options: IListOptions = {}): Promise<IPage<INamespace>> {
    return this._page<INamespace>(
      'namespace/',
      CondaStoreAPI._list(options, MAX_PAGE_SIZE),
      CondaStoreAPI._cache(options)
    );
  }

  async getNamespace(name: string): Promise<INamespace> {
    return this._data<INamespace>(CondaStoreAPI._path('namespace', name));
  }

  async createNamespace(name: string): Promise<void> {
    await this._data<null>(CondaStoreAPI._path('namespace', name), { method: 'POST' });
  }

  async deleteNamespace(name: string): Promise<void> {
    await this._data<null>(CondaStoreAPI._path('namespace', name), { method: 'DELETE' });
  }

  // -- environments ------------------------------------------------------------------------

  async listEnvironments(query: IEnvironmentQuery = {}): Promise<IPage<IEnvironment>> {
    return this._page<IEnvironment>(
      'environment/',
      CondaStoreAPI._list(query, MAX_PAGE_SIZE, [
        'namespace',
        'name',
        'search',
        'status',
        'packages'
      ]),
      CondaStoreAPI._cache(query)
    );
  }

  async getEnvironment(namespace: string, name: string): Promise<IEnvironment> {
    return this._data<IEnvironment>(CondaStoreAPI._path('environment', namespace, name));
  }

  /** Make `buildId` the environment's current build (roll back or forward). */
  async setCurrentBuild(namespace: string, name: string, buildId: number): Promise<IEnvironment> {
    return this._data<IEnvironment>(
      CondaStoreAPI._path('environment', namespace, name),
      this._json('PUT', { build_id: buildId })
    );
  }

  async updateDescription(
    namespace: string,
    name: string,
    description: string
  ): Promise<IEnvironment> {
    return this._data<IEnvironment>(
      CondaStoreAPI._path('environment', namespace, name),
      this._json('PUT', { description })
    );
  }

  async deleteEnvironment(namespace: string, name: string): Promise<void> {
    await this._data<null>(CondaStoreAPI._path('environment', namespace, name), {
      method: 'DELETE'
    });
  }

  // -- export, import, copy and rename -----------------------------------------------------

  /**
   * The history of an environment as an archive. Fetched rather than linked to, so the token
   * header goes along and an error comes back with the server's message.
   */
  async exportEnvironment(namespace: string, name: string): Promise<IArchive> {
    return this._archive(
      `${CondaStoreAPI._path('environment', namespace, name)}export/`,
      `${namespace}-${name}.conda-store.tar.gz`
    );
  }

  /** Every environment of a namespace the caller may read, as one archive. */
  async exportNamespace(namespace: string): Promise<IArchive> {
    return this._archive(
      `${CondaStoreAPI._path('namespace', namespace)}export/`,
      `${namespace}.conda-store.tar.gz`
    );
  }

  /**
   * Recreate the environments of an archive (from an export), in `namespace` when given and as
   * `name` when it holds one environment; their current builds are restored from lock files.
   */
  async importArchive(
    archive: Blob | ArrayBuffer | Uint8Array,
    target: IMoveTarget = {}
  ): Promise<IImportedEnvironment[]> {
    const data = await this._data<IImportedEnvironment[]>(
      'environment/import/',
      {
        method: 'POST',
        body: archive as BodyInit,
        // Not JSON: ServerConnection would say it is unless told otherwise.
        headers: { 'Content-Type': 'application/octet-stream' }
      },
      { namespace: target.namespace, name: target.name }
    );
    return data ?? [];
  }

  /** A copy of an environment (its current build restored from its lock file): the new one. */
  async copyEnvironment(
    namespace: string,
    name: string,
    target: IMoveTarget
  ): Promise<IEnvironment> {
    return this._data<IEnvironment>(
      `${CondaStoreAPI._path('environment', namespace, name)}copy/`,
      this._json('POST', target)
    );
  }

  /** Rename an environment, or move it to another namespace: resolves with it under the new name. */
  async renameEnvironment(
    namespace: string,
    name: string,
    target: IMoveTarget
  ): Promise<IEnvironment> {
    return this._data<IEnvironment>(
      `${CondaStoreAPI._path('environment', namespace, name)}rename/`,
      this._json('POST', target)
    );
  }

  private async _archive(endPoint: string, fallbackName: string): Promise<IArchive> {
    const response = await fetchAPI(endPoint, {}, this._settings);
    const filename = attachmentName(response.headers.get('Content-Disposition')) ?? fallbackName;
    return { blob: await response.blob(), filename };
  }

  // -- specifications ----------------------------------------------------------------------

  /** Create or update an environment from a specification; resolves with the build id. */
  async submitSpecification(request: ISpecificationRequest): Promise<number> {
    const data = await this._data<{ build_id: number }>(
      'specification/',
      this._json('POST', request)
    );
    return data.build_id;
  }

  /** Check a specification and/or names as a submit would, writing nothing. */
  async validateSpecification(
    request: IValidateRequest,
    signal?: AbortSignal
  ): Promise<IValidation> {
    return this._data<IValidation>('validate/specification/', {
      ...this._json('POST', request),
      signal
    });
  }

  // -- builds ------------------------------------------------------------------------------

  async listBuilds(query: IBuildQuery = {}): Promise<IPage<IBuild>> {
    return this._page<IBuild>(
      'build/',
      CondaStoreAPI._list(query, 100, ['namespace', 'name', 'environment_id', 'status']),
      CondaStoreAPI._cache(query)
    );
  }

  async getBuild(id: number): Promise<IBuild> {
    return this._data<IBuild>(CondaStoreAPI._path('build', id));
  }

  /** A new build of the same specification; resolves with its id. */
  async rebuild(id: number): Promise<number> {
    const data = await this._data<{ build_id: number }>(CondaStoreAPI._path('build', id), {
      method: 'PUT'
    });
    return data.build_id;
  }

  async cancelBuild(id: number): Promise<IBuild> {
    return this._data<IBuild>(`${CondaStoreAPI._path('build', id)}cancel/`, { method: 'PUT' });
  }

  /**
   * Reinstall a garbage-collected build's prefix from its own lock file (no solve); 409 when it
   * is not collected. Resolves with the build's id.
   */
  async restoreBuild(id: number): Promise<number> {
    const data = await this._data<{ build_id: number } | null>(
      `${CondaStoreAPI._path('build', id)}restore/`,
      { method: 'POST' }
    );
    return data?.build_id ?? id;
  }

  async deleteBuild(id: number): Promise<void> {
    await this._data<null>(CondaStoreAPI._path('build', id), { method: 'DELETE' });
  }

  async buildPackages(
    id: number,
    options: IListOptions & { search?: string } = {}
  ): Promise<IPage<IPackage>> {
    return this._page<IPackage>(
      `${CondaStoreAPI._path('build', id)}packages/`,
      CondaStoreAPI._list(options, MAX_PAGE_SIZE, ['search'])
    );
  }

  async diffBuilds(from: number, to: number): Promise<IBuildDiff> {
    return this._data<IBuildDiff>(CondaStoreAPI._path('build', from, 'diff', to));
  }

  /**
   * What a notebook records of a build (its lock file, hashes, the store's version); 404 when
   * the build is gone or not readable, 409 when it is not completed.
   */
  async buildRecord(id: number): Promise<IBuildRecord> {
    return this._data<IBuildRecord>(`${CondaStoreAPI._path('build', id)}record/`);
  }

  /** The whole log as text. */
  async buildLog(id: number): Promise<string> {
    const response = await fetchAPI(`${CondaStoreAPI._path('build', id)}logs/`, {}, this._settings);
    return response.text();
  }

  /**
   * Follow a build's log live (server-sent events over fetch, so the token header goes along).
   * Resolves when the build is final and the stream ended, or when `signal` aborts.
   */
  async streamLog(
    id: number,
    handlers: ILogStreamHandlers,
    options: ILogStreamOptions = {}
  ): Promise<void> {
    let response: Response;
    try {
      response = await fetchAPI(
        `${CondaStoreAPI._path('build', id)}logs/stream/`,
        { signal: options.signal, headers: { Accept: 'text/event-stream' } },
        this._settings,
        { offset: options.offset || undefined }
      );
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') {
        return;
      }
      throw error;
    }
    const parser = new SSEParser();
    const dispatch = (events: ReturnType<SSEParser['feed']>) => {
      for (const event of events) {
        dispatchLogEvent(event.event, event.data, event.id, handlers);
      }
    };
    if (!response.body) {
      // No streaming body (an old browser): parse the whole answer at once.
      dispatch(parser.feed(await response.text()));
      dispatch(parser.end());
      return;
    }
    const reader = response.body.getReader();
    // Abort ends a pending read too (fetch does it in browsers; this covers any fetch).
    const onAbort = () => void reader.cancel().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || options.signal?.aborted) {
          break;
        }
        dispatch(parser.feedBytes(value));
      }
      if (!options.signal?.aborted) {
        dispatch(parser.end());
      }
    } catch (error) {
      if ((error as Error)?.name === 'AbortError' || options.signal?.aborted) {
        return;
      }
      throw new CondaStoreError(
        `The log stream of build ${id} broke off: ${(error as Error).message}`,
        0
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      reader.releaseLock();
    }
  }

  // -- artifacts ---------------------------------------------------------------------------

  /**
   * URL to download an artifact of a build, under the server's base URL. Cookie auth works in
   * JupyterLab; when the settings carry a token it goes along as `?token=` for plain links.
   */
  artifactURL(id: number, kind: ArtifactKind): string {
    const path = kind === 'logs' ? 'logs' : kind;
    const url = apiURL(`${CondaStoreAPI._path('build', id)}${path}/`, this._settings);
    const token = this._settings.token;
    return token ? `${url}?token=${encodeURIComponent(token)}` : url;
  }

  // -- disk usage --------------------------------------------------------------------------

  /**
   * What the store uses on disk, per readable namespace (with its quota) and in all. Polled with
   * the lists, so revalidated through the HTTP cache as they are.
   */
  async getUsage(): Promise<IUsage> {
    return this._data<IUsage>('usage/', CondaStoreAPI._cache({ revalidate: true }));
  }

  // -- kernels -----------------------------------------------------------------------------

  /** The running kernels of the store's environments, each with the build it runs. */
  async runningKernels(): Promise<IRunningKernel[]> {
    return this._data<IRunningKernel[]>('kernels/');
  }

  // -- channels and packages ----------------------------------------------------------------

  async channels(): Promise<IChannel[]> {
    return this._data<IChannel[]>('channel/');
  }

  /** Package names starting with or containing `search`, for completion. */
  async searchPackages(search: string, channels: string[] = [], size = 50): Promise<string[]> {
    const page = await this._page<{ name: string }>('package/', {
      search,
      channel: channels,
      size
    });
    return page.items.map(item => item.name);
  }
}

/** Turn one server-sent event of a build log stream into handler calls. */
export function dispatchLogEvent(
  event: string,
  data: string,
  id: string | null,
  handlers: ILogStreamHandlers
): void {
  switch (event) {
    case 'status':
    case 'end': {
      let status: BuildStatus | undefined;
      try {
        status = (JSON.parse(data) as { status: BuildStatus }).status;
      } catch {
        status = undefined;
      }
      if (status) {
        if (event === 'status') {
          handlers.onStatus?.(status);
        } else {
          handlers.onEnd?.(status);
        }
      }
      break;
    }
    case 'log': {
      const offset = id !== null && /^\d+$/.test(id) ? Number(id) : null;
      handlers.onLine?.(data, offset);
      break;
    }
    default:
      break;
  }
}
