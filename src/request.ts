import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Path of the REST API, relative to the server's base URL. */
export const API_PATH = 'conda-store/api/v1';

/**
 * An error answered by the conda-store API (or by the server when the extension is missing),
 * carrying the HTTP status and the server's own message.
 */
export class CondaStoreError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** True when the answer was conda-store's JSON envelope (the extension answered). */
    readonly fromAPI = false
  ) {
    super(message);
    this.name = 'CondaStoreError';
  }

  /** True when the server answered but has no conda-store-jupyter routes. */
  get isExtensionMissing(): boolean {
    return this.status === 404 && !this.fromAPI;
  }

  /**
   * True when the server extension is installed but could not start (a configuration error):
   * every route answers 503 with the reason.
   */
  get isExtensionUnavailable(): boolean {
    return this.status === 503 && this.fromAPI;
  }

  /** True when the server refused for lack of a role (the message names the role). */
  get isForbidden(): boolean {
    return this.status === 403;
  }
}

/** conda-store's response envelope. */
export interface IEnvelope<T> {
  status: 'ok' | 'error';
  data?: T;
  message?: string | null;
  page?: number;
  size?: number;
  count?: number;
}

/** A query string value: repeated for arrays, left out when undefined, null or ''. */
export type QueryValue = string | number | boolean | null | undefined | Array<string | number>;

/** `?a=1&b=x&b=y` from an object, in key order, leaving out empty values. */
export function queryString(query: Record<string, QueryValue> = {}): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (item === undefined || item === null || item === '') {
        continue;
      }
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(item))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The absolute URL of an API end point under the server's base URL. */
export function apiURL(
  endPoint: string,
  settings: ServerConnection.ISettings,
  query?: Record<string, QueryValue>
): string {
  return URLExt.join(settings.baseUrl, API_PATH, endPoint) + queryString(query);
}

/** Words a person can act on, for an error answer without a message of its own. */
function fallbackMessage(status: number, statusText: string): string {
  switch (status) {
    case 404:
      return 'The conda-store-jupyter server extension is not available on this server.';
    case 403:
      return 'You are not allowed to do this (403 Forbidden).';
    case 502:
    case 503:
    case 504:
      return `The Jupyter server is not answering (${status} ${statusText}). Try again in a moment.`;
    default:
      return `The server answered ${status} ${statusText}`.trim();
  }
}

/**
 * The one place requests go out: base URL, token, XSRF (through ServerConnection) and error
 * messages. Resolves with the response when it is a success; otherwise throws a
 * `CondaStoreError` carrying the status and the server's message.
 */
export async function fetchAPI(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  query?: Record<string, QueryValue>
): Promise<Response> {
  const url = apiURL(endPoint, settings, query);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if (init.signal?.aborted) {
      // ServerConnection wraps the AbortError in a NetworkError: say it plainly again.
      const aborted = new Error('The request was aborted.');
      aborted.name = 'AbortError';
      throw aborted;
    }
    throw new CondaStoreError(`Cannot reach the Jupyter server: ${(error as Error).message}`, 0);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let body: IEnvelope<unknown> | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const fromAPI = typeof body === 'object' && body !== null && 'status' in body;
    const message = body?.message || fallbackMessage(response.status, response.statusText);
    throw new CondaStoreError(message, response.status, fromAPI);
  }
  return response;
}

/**
 * The JSON request helper: every JSON call of the front end goes through it (and through
 * `fetchAPI`), so base URL, token, XSRF and error messages are handled in one place.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  query?: Record<string, QueryValue>
): Promise<IEnvelope<T>> {
  const response = await fetchAPI(endPoint, init, settings, query);
  const text = await response.text();
  try {
    return JSON.parse(text) as IEnvelope<T>;
  } catch {
    throw new CondaStoreError(
      `Unexpected answer from ${apiURL(endPoint, settings)}: not JSON`,
      response.status
    );
  }
}
