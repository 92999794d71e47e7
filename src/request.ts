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
    readonly status: number
  ) {
    super(message);
    this.name = 'CondaStoreError';
  }

  /** True when the server answered but has no conda-store-jupyter routes. */
  get isExtensionMissing(): boolean {
    return this.status === 404;
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

/**
 * The one request helper: every call of the front end goes through it, so base URL, token,
 * XSRF and error messages are handled in one place.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IEnvelope<T>> {
  const url = URLExt.join(settings.baseUrl, API_PATH, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new CondaStoreError(
      `Cannot reach the Jupyter server: ${(error as Error).message}`,
      0
    );
  }
  const text = await response.text();
  let body: IEnvelope<T> | undefined;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!response.ok) {
    const message =
      body?.message ??
      (response.status === 404
        ? 'The conda-store-jupyter server extension is not available on this server.'
        : `${response.status} ${response.statusText}`);
    throw new CondaStoreError(message, response.status);
  }
  if (body === undefined) {
    throw new CondaStoreError(
      `Unexpected answer from ${url}: not JSON`,
      response.status
    );
  }
  return body;
}
