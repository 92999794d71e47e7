/**
 * Lists the sidebar polls go out revalidated through the browser's HTTP cache (If-None-Match,
 * 304s), not with the time stamp and `no-store` JupyterLab's requests carry by default.
 */
import { ServerConnection } from '@jupyterlab/services';

import { CondaStoreAPI } from '../api';

function service(): { api: CondaStoreAPI; seen: Request[] } {
  const seen: Request[] = [];
  const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(input instanceof Request ? input : new Request(String(input), init));
    return new Response(JSON.stringify({ status: 'ok', data: [], page: 1, size: 1, count: 0 }), {
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/',
    fetch: fetchMock as typeof fetch
  });
  return { api: new CondaStoreAPI(settings), seen };
}

describe('revalidated lists', () => {
  it('ask the cache to revalidate, with a stable URL', async () => {
    const { api, seen } = service();
    await api.listEnvironments({ namespace: 'team', sort_by: 'name', revalidate: true });
    await api.listNamespaces({ revalidate: true });
    await api.listBuilds({ size: 200, revalidate: true });
    expect(seen.map(r => r.cache)).toEqual(['no-cache', 'no-cache', 'no-cache']);
    expect(seen[0].url).toBe(
      'http://localhost:8888/conda-store/api/v1/environment/?namespace=team&size=1000&sort_by=name'
    );
    expect(seen.every(r => !/[?&]\d{13}$/.test(r.url))).toBe(true);
  });

  it('others keep JupyterLab’s default (no-store and a time stamp)', async () => {
    const { api, seen } = service();
    await api.listEnvironments({ namespace: 'team' });
    expect(seen[0].cache).toBe('no-store');
    expect(seen[0].url).toMatch(/[?&]\d{13}$/);
  });
});
