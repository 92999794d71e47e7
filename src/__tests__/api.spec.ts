/**
 * The typed API service, with fetch mocked at the boundary: URLs under a base URL, the envelope
 * unwrapped, errors carrying status and message, the live log stream parsed.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ReadableStream } from 'stream/web';

import { CondaStoreAPI, attachmentName } from '../api';
import { BuildStatus } from '../models';
import { CondaStoreError, queryString } from '../request';

interface ISeen {
  url: string;
  method: string;
  headers: Headers;
  body: string;
  signal: AbortSignal;
}

type Responder = (request: ISeen) => Response | Promise<Response>;

const BASE = 'http://localhost:8888/lab%40base/user/';

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

function ok(data: unknown, extra: Record<string, unknown> = {}): Response {
  return json({ status: 'ok', data, message: null, ...extra });
}

/** A service whose fetch records each request and answers with `respond`. */
function service(respond: Responder, token = ''): { api: CondaStoreAPI; seen: ISeen[] } {
  const seen: ISeen[] = [];
  const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const entry: ISeen = {
      // ServerConnection appends a cache buster (`?1700000000000` or `&1700000000000`).
      url: request.url.replace(/[?&]\d{13}$/, ''),
      method: request.method,
      headers: request.headers,
      signal: request.signal,
      body: request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text()
    };
    seen.push(entry);
    return respond(entry);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    token,
    fetch: fetchMock as typeof fetch
  });
  return { api: new CondaStoreAPI(settings), seen };
}

/** A streamed response body made of the given chunks (strings or bytes). */
function streamed(chunks: Array<string | Uint8Array>, status = 200): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      }
      controller.close();
    }
  });
  return new Response(body as unknown as BodyInit, {
    status,
    headers: { 'Content-Type': 'text/event-stream' }
  });
}

describe('queryString', () => {
  it('repeats arrays, leaves out empty values and encodes', () => {
    expect(queryString({ conda: ['a', 'b c'], channel: undefined, search: '', page: 2 })).toBe(
      '?conda=a&conda=b%20c&page=2'
    );
    expect(queryString({})).toBe('');
  });
});

describe('CondaStoreAPI', () => {
  it('builds URLs under the base URL and unwraps the envelope', async () => {
    const { api, seen } = service(() => ok({ version: '0.1.0' }));
    await expect(api.status()).resolves.toEqual({ version: '0.1.0' });
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1`);
    expect(seen[0].method).toBe('GET');
  });

  it('sends the token header when the settings have one', async () => {
    const { api, seen } = service(() => ok({ version: '1' }), 'secret');
    await api.status();
    expect(seen[0].headers.get('Authorization')).toBe('token secret');
  });

  it('lists with paging info and encodes path segments', async () => {
    const { api, seen } = service(() =>
      ok([{ id: 1, name: 'x' }], { page: 1, size: 1000, count: 7 })
    );
    const page = await api.listEnvironments({ namespace: 'team a', search: 'py' });
    expect(page).toEqual({ items: [{ id: 1, name: 'x' }], page: 1, size: 1000, count: 7 });
    expect(seen[0].url).toBe(
      `${BASE}conda-store/api/v1/environment/?namespace=team%20a&search=py&size=1000`
    );
    await api.getEnvironment('team a', 'my/env');
    expect(seen[1].url).toBe(`${BASE}conda-store/api/v1/environment/team%20a/my%2Fenv/`);
  });

  it('posts specifications as JSON and returns the build id', async () => {
    const { api, seen } = service(() => ok({ build_id: 42 }));
    const id = await api.submitSpecification({
      namespace: 'default',
      specification: 'name: demo\n',
      environment_name: 'demo'
    });
    expect(id).toBe(42);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/specification/`);
    expect(JSON.parse(seen[0].body)).toEqual({
      namespace: 'default',
      specification: 'name: demo\n',
      environment_name: 'demo'
    });
  });

  it('validates a specification and names with POST, writing nothing', async () => {
    const answer = {
      valid: false,
      problems: [
        {
          message: 'Invalid YAML: expected a mapping',
          line: 4,
          column: 3,
          path: [],
          field: 'specification'
        }
      ],
      name: null
    };
    const { api, seen } = service(() => ok(answer));
    const result = await api.validateSpecification({
      specification: 'name: demo\n',
      is_lockfile: false,
      namespace: 'team',
      environment_name: 'demo'
    });
    expect(result).toEqual(answer);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/validate/specification/`);
    expect(seen[0].headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(seen[0].body)).toEqual({
      specification: 'name: demo\n',
      is_lockfile: false,
      namespace: 'team',
      environment_name: 'demo'
    });
  });

  it('sends only the fields given and can be aborted', async () => {
    // As fetch does: an aborted request rejects with an AbortError.
    const { api, seen } = service(request => {
      if (request.signal.aborted) {
        throw new DOMException('The operation was aborted.', 'AbortError');
      }
      return ok({ valid: true, problems: [], name: null });
    });
    await api.validateSpecification({ namespace: 'team' });
    expect(JSON.parse(seen[0].body)).toEqual({ namespace: 'team' });

    const controller = new AbortController();
    controller.abort();
    const error = await api
      .validateSpecification({ specification: 'x' }, controller.signal)
      .catch(e => e);
    expect(error.name).toBe('AbortError');
  });

  it('rolls back with PUT build_id, cancels, rebuilds, deletes and diffs', async () => {
    const { api, seen } = service(request => {
      if (request.url.endsWith('/build/3/') && request.method === 'PUT') {
        return ok({ build_id: 9 });
      }
      return ok({});
    });
    await api.setCurrentBuild('ns', 'env', 3);
    await api.cancelBuild(5);
    await expect(api.rebuild(3)).resolves.toBe(9);
    await api.deleteBuild(4);
    await api.diffBuilds(1, 2);
    const calls = seen.map(s => `${s.method} ${s.url.slice(BASE.length)}`);
    expect(calls).toEqual([
      'PUT conda-store/api/v1/environment/ns/env/',
      'PUT conda-store/api/v1/build/5/cancel/',
      'PUT conda-store/api/v1/build/3/',
      'DELETE conda-store/api/v1/build/4/',
      'GET conda-store/api/v1/build/1/diff/2/'
    ]);
    expect(JSON.parse(seen[0].body)).toEqual({ build_id: 3 });
  });

  it('searches package names for completion', async () => {
    const { api, seen } = service(() => ok([{ name: 'alpha' }, { name: 'alphabet' }]));
    await expect(api.searchPackages('alp', ['chan'])).resolves.toEqual(['alpha', 'alphabet']);
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/package/?search=alp&channel=chan&size=50`);
  });

  it('throws errors carrying the status and the server message', async () => {
    const { api } = service(() =>
      json({ status: 'error', message: "you need the role 'developer' on ns/env" }, 403)
    );
    const error = await api.setCurrentBuild('ns', 'env', 1).catch(e => e);
    expect(error).toBeInstanceOf(CondaStoreError);
    expect(error.status).toBe(403);
    expect(error.message).toBe("you need the role 'developer' on ns/env");
    expect(error.isForbidden).toBe(true);
    expect(error.isExtensionMissing).toBe(false);
  });

  it('tells a missing extension from a missing environment', async () => {
    const missing = service(() => new Response('<html>Not Found</html>', { status: 404 }));
    const error = await missing.api.status().catch(e => e);
    expect(error.isExtensionMissing).toBe(true);
    expect(error.message).toMatch(/server extension is not available/);

    const notFound = service(() =>
      json({ status: 'error', message: 'environment ns/x does not exist' }, 404)
    );
    const error2 = await notFound.api.getEnvironment('ns', 'x').catch(e => e);
    expect(error2.isExtensionMissing).toBe(false);
    expect(error2.message).toBe('environment ns/x does not exist');
  });

  it('says when the server cannot be reached', async () => {
    const { api } = service(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await api.status().catch(e => e);
    expect(error).toBeInstanceOf(CondaStoreError);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/Cannot reach the Jupyter server/);
  });

  it('makes artifact download URLs under the base URL, with the token when there is one', () => {
    expect(service(() => ok(null)).api.artifactURL(7, 'lockfile')).toBe(
      `${BASE}conda-store/api/v1/build/7/lockfile/`
    );
    expect(service(() => ok(null), 'a b').api.artifactURL(7, 'archive')).toBe(
      `${BASE}conda-store/api/v1/build/7/archive/?token=a%20b`
    );
  });

  it('reads the whole log as text', async () => {
    const { api, seen } = service(() => new Response('line 1\nline 2\n'));
    await expect(api.buildLog(3)).resolves.toBe('line 1\nline 2\n');
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/build/3/logs/`);
  });
});

describe('CondaStoreAPI.streamLog', () => {
  async function collect(
    chunks: Array<string | Uint8Array>,
    offset?: number
  ): Promise<{ events: string[]; seen: ISeen[] }> {
    const { api, seen } = service(() => streamed(chunks));
    const events: string[] = [];
    await api.streamLog(
      12,
      {
        onStatus: (status: BuildStatus) => events.push(`status ${status}`),
        onLine: (line, at) => events.push(`log ${at} ${line}`),
        onEnd: status => events.push(`end ${status}`)
      },
      { offset }
    );
    return { events, seen };
  }

  it('parses status, log and end events', async () => {
    const { events, seen } = await collect([
      'event: status\ndata: {"status": "BUILDING"}\n\n',
      'event: log\nid: 10\ndata: starting build\n\n',
      'event: log\nid: 11\ndata: \n\n',
      'event: status\ndata: {"status": "COMPLETED"}\n\n',
      'event: end\ndata: {"status": "COMPLETED"}\n\n'
    ]);
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/build/12/logs/stream/`);
    expect(events).toEqual([
      'status BUILDING',
      'log 10 starting build',
      'log 11 ',
      'status COMPLETED',
      'end COMPLETED'
    ]);
  });

  it('handles events split across chunks anywhere, CRLF and multi-byte characters', async () => {
    const text =
      'event: status\r\ndata: {"status": "QUEUED"}\r\n\r\n' +
      ': keep-alive\r\n\r\n' +
      'event: log\r\nid: 120\r\ndata: └─ conflict-base 1.0 — ça\r\n\r\n' +
      'event: end\ndata: {"status": "FAILED"}\n\n';
    const bytes = new TextEncoder().encode(text);
    // Every split point, including inside "\r\n" and inside multi-byte characters.
    for (let split = 1; split < bytes.length; split += 3) {
      const { events } = await collect([bytes.slice(0, split), bytes.slice(split)]);
      expect(events).toEqual(['status QUEUED', 'log 120 └─ conflict-base 1.0 — ça', 'end FAILED']);
    }
    // One byte at a time.
    const single = Array.from(bytes, b => Uint8Array.of(b));
    const { events } = await collect(single);
    expect(events).toEqual(['status QUEUED', 'log 120 └─ conflict-base 1.0 — ça', 'end FAILED']);
  });

  it('resumes from an offset', async () => {
    const { seen } = await collect(['event: end\ndata: {"status": "COMPLETED"}\n\n'], 394);
    expect(seen[0].url).toBe(`${BASE}conda-store/api/v1/build/12/logs/stream/?offset=394`);
  });

  it('ignores an incomplete last event, as EventSource does', async () => {
    const { events } = await collect([
      'event: log\nid: 1\ndata: complete\n\nevent: log\ndata: cut'
    ]);
    expect(events).toEqual(['log 1 complete']);
  });

  it('throws the server message when the stream is refused', async () => {
    const { api } = service(() =>
      json({ status: 'error', message: 'build 99 does not exist' }, 404)
    );
    const error = await api.streamLog(99, {}).catch(e => e);
    expect(error).toBeInstanceOf(CondaStoreError);
    expect(error.status).toBe(404);
    expect(error.message).toBe('build 99 does not exist');
  });

  it('stops quietly when aborted', async () => {
    const controller = new AbortController();
    const { api } = service(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new TextEncoder().encode('event: log\nid: 1\ndata: first\n\n'));
              // never closes: a build still running
            }
          }) as unknown as BodyInit
        )
    );
    const lines: string[] = [];
    const done = api.streamLog(
      1,
      {
        onLine: line => {
          lines.push(line);
          controller.abort();
        }
      },
      { signal: controller.signal }
    );
    await expect(done).resolves.toBeUndefined();
    expect(lines).toEqual(['first']);
  });
});

describe('export, import, copy and rename', () => {
  const V1 = `${BASE}conda-store/api/v1`;

  function archive(filename: string | null): Response {
    const headers: Record<string, string> = { 'Content-Type': 'application/gzip' };
    if (filename) {
      headers['Content-Disposition'] = `attachment; filename="${filename}"`;
    }
    return new Response(new TextEncoder().encode('the archive'), { status: 200, headers });
  }

  it('exports an environment as a blob named as the server says', async () => {
    const { api, seen } = service(() => archive('team-my env.conda-store.tar.gz'), 'secret');
    const result = await api.exportEnvironment('team', 'my env');
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toBe(`${V1}/environment/team/my%20env/export/`);
    // Fetched, so the token goes along (a plain link would carry none).
    expect(seen[0].headers.get('Authorization')).toBe('token secret');
    expect(result.filename).toBe('team-my env.conda-store.tar.gz');
    expect(await result.blob.text()).toBe('the archive');
  });

  it('exports a namespace, with a file name of its own when the server gives none', async () => {
    const { api, seen } = service(() => archive(null));
    const result = await api.exportNamespace('team');
    expect(seen[0].url).toBe(`${V1}/namespace/team/export/`);
    expect(result.filename).toBe('team.conda-store.tar.gz');
  });

  it('reads the file name of a Content-Disposition header', () => {
    expect(attachmentName('attachment; filename="a-b.conda-store.tar.gz"')).toBe(
      'a-b.conda-store.tar.gz'
    );
    expect(attachmentName("attachment; filename*=UTF-8''a%20b.tar.gz")).toBe('a b.tar.gz');
    expect(attachmentName(null)).toBeNull();
  });

  it('says why an export failed, in the server’s words', async () => {
    const { api } = service(() =>
      json({ status: 'error', message: 'environment team/x not found' }, 404)
    );
    const error = await api.exportEnvironment('team', 'x').catch(e => e);
    expect(error).toBeInstanceOf(CondaStoreError);
    expect(error.message).toBe('environment team/x not found');
  });

  it('imports the archive’s bytes as they are, into the namespace given', async () => {
    const imported = [
      { namespace: 'imported', name: 'x', builds: { '3': 11 }, current_build_id: 11 }
    ];
    const { api, seen } = service(() => ok(imported));
    const bytes = new TextEncoder().encode('the archive');
    await expect(api.importArchive(bytes, { namespace: 'imported' })).resolves.toEqual(imported);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`${V1}/environment/import/?namespace=imported`);
    // Not JSON: the bytes, said to be bytes.
    expect(seen[0].headers.get('Content-Type')).toBe('application/octet-stream');
    expect(seen[0].body).toBe('the archive');

    await api.importArchive(bytes, { namespace: 'team', name: 'y' });
    expect(seen[1].url).toBe(`${V1}/environment/import/?namespace=team&name=y`);
    await api.importArchive(bytes);
    expect(seen[2].url).toBe(`${V1}/environment/import/`);
  });

  it('passes on a refused import with the server’s message and status', async () => {
    const { api } = service(() =>
      json({ status: 'error', message: 'environment imported/x exists already' }, 409)
    );
    const error = await api.importArchive(new Uint8Array([1])).catch(e => e);
    expect(error.status).toBe(409);
    expect(error.message).toBe('environment imported/x exists already');
  });

  it('copies and renames with POST and the target as JSON, answering the new environment', async () => {
    const { api, seen } = service(request =>
      ok({ id: 5, name: JSON.parse(request.body).name, namespace: { name: 'team' } })
    );
    const copy = await api.copyEnvironment('team', 'x', { namespace: 'team', name: 'x-copy' });
    expect(copy.name).toBe('x-copy');
    await api.renameEnvironment('team', 'x-copy', { name: 'x-twin' });
    expect(seen.map(s => `${s.method} ${s.url.slice(V1.length)}`)).toEqual([
      'POST /environment/team/x/copy/',
      'POST /environment/team/x-copy/rename/'
    ]);
    expect(seen[0].headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(seen[0].body)).toEqual({ namespace: 'team', name: 'x-copy' });
    expect(JSON.parse(seen[1].body)).toEqual({ name: 'x-twin' });
  });
});
