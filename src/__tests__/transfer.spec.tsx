/**
 * The Copy, Rename and Import dialogs: what they offer, what they refuse (the server's word on
 * names, targets that exist, a rename to the same names, no archive), and what they ask the
 * server.
 */
import React from 'react';
import { act } from 'react';

import { IValidateRequest, IValidation } from '../api';
import {
  IImportState,
  IMoveDialogOptions,
  IMoveState,
  ImportForm,
  MoveForm,
  copyName,
  importProblems,
  moveProblems,
  moveRequest
} from '../transferdialogs';
import { CHECK_DELAY, ISpecValidator } from '../validation';

// The forms are rendered on their own: of the dialogs' package, only what the module needs.
jest.mock('@jupyterlab/apputils', () => ({
  Dialog: {},
  ReactWidget: class {},
  showDialog: async () => ({ button: { accept: false } })
}));

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRoot } = require('react-dom/client') as { createRoot: (host: Element) => IRoot };
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const EXISTING = new Set(['team/x', 'team/x-copy', 'other/y']);
const exists = (namespace: string, name: string) => EXISTING.has(`${namespace}/${name}`);

/** The server's answer when every name is fine. */
const FINE: IValidation = { valid: true, problems: [], name: null } as unknown as IValidation;

/** The server's answer refusing a field. */
function refusing(field: string, message: string): IValidation {
  return {
    valid: false,
    problems: [{ field, message, path: [], line: null, column: null }],
    name: null
  } as unknown as IValidation;
}

describe('copyName', () => {
  it('offers <name>-copy, or the first numbered one not taken', () => {
    expect(copyName('other', 'x', exists)).toBe('x-copy');
    expect(copyName('team', 'x', exists)).toBe('x-copy-2');
  });
});

describe('moveRequest', () => {
  it('asks the server about the trimmed names given', () => {
    expect(moveRequest({ namespace: ' team ', name: 'x-copy ' })).toEqual({
      namespace: 'team',
      environment_name: 'x-copy'
    });
    expect(moveRequest({ namespace: '', name: 'x' })).toEqual({ environment_name: 'x' });
    expect(moveRequest({ namespace: ' ', name: '' })).toBeNull();
  });
});

describe('moveProblems', () => {
  const copy = { verb: 'copy' as const, namespace: 'team', name: 'x', exists };
  const rename = { ...copy, verb: 'rename' as const };
  const none = { result: null };

  it('accepts a new name, or a namespace where the name is free', () => {
    expect(moveProblems({ namespace: 'team', name: 'x-2' }, copy, none)).toEqual({});
    expect(moveProblems({ namespace: 'new-ns', name: 'x' }, rename, none)).toEqual({});
  });

  it('wants both fields', () => {
    expect(moveProblems({ namespace: ' ', name: '' }, copy, none)).toEqual({
      namespace: 'Choose a namespace',
      name: 'Give the environment a name'
    });
  });

  it('refuses the same names as now', () => {
    expect(moveProblems({ namespace: 'team', name: 'x' }, rename, none).name).toBe(
      'Give another name or namespace'
    );
    expect(moveProblems({ namespace: 'team', name: 'x ' }, copy, none).name).toBe(
      'A copy needs another name or namespace'
    );
  });

  it('refuses a target that exists', () => {
    expect(moveProblems({ namespace: 'team', name: 'x-copy' }, rename, none).name).toBe(
      'team/x-copy already exists'
    );
  });

  it('says what the server refuses, first letter up', () => {
    const check = { result: refusing('environment_name', 'may only contain letters') };
    expect(moveProblems({ namespace: 'team', name: 'a b' }, copy, check).name).toBe(
      'May only contain letters'
    );
    const nsCheck = { result: refusing('namespace', 'reserved name') };
    expect(moveProblems({ namespace: 'x y', name: 'a' }, copy, nsCheck).namespace).toBe(
      'Reserved name'
    );
  });
});

describe('importProblems', () => {
  const file = new File(['x'], 'a.conda-store.tar.gz');

  it('wants an archive; the namespace may stay empty', () => {
    expect(importProblems({ file: null, namespace: '' }, { result: null })).toEqual({
      file: 'Choose an archive exported from conda-store'
    });
    expect(importProblems({ file, namespace: '' }, { result: null })).toEqual({});
  });

  it('says what the server refuses of the namespace given', () => {
    const check = { result: refusing('namespace', 'may only contain letters') };
    expect(importProblems({ file, namespace: 'a b' }, check)).toEqual({
      namespace: 'May only contain letters'
    });
    // An empty namespace is not asked about: an earlier answer does not count.
    expect(importProblems({ file, namespace: '' }, check)).toEqual({});
  });
});

describe('the forms', () => {
  let host: HTMLDivElement;
  let root: IRoot;
  let asked: IValidateRequest[];

  /** A server that refuses names with a space, and records what it was asked. */
  const validator: ISpecValidator = {
    validateSpecification: async request => {
      asked.push(request);
      return / /.test(request.environment_name ?? '')
        ? refusing('environment_name', 'may only contain letters, digits')
        : / /.test(request.namespace ?? '')
          ? refusing('namespace', 'may only contain letters, digits')
          : FINE;
    }
  };

  const checked = () => act(() => new Promise(resolve => setTimeout(resolve, CHECK_DELAY + 50)));

  function input(name: string): HTMLInputElement {
    return host.querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
  }

  /** Type into a React-controlled input. */
  function type(element: HTMLInputElement, value: string): void {
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    act(() => {
      setter.call(element, value);
      element.dispatchEvent(new Event('input', { bubbles: true }));
    });
  }

  beforeEach(() => {
    asked = [];
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
  });

  afterEach(() => {
    act(() => root.unmount());
    host.remove();
  });

  it('copy: valid once the server agrees, refused while a name is wrong', async () => {
    const changes: Array<[IMoveState, boolean]> = [];
    const options: IMoveDialogOptions<unknown> = {
      verb: 'copy',
      namespace: 'team',
      name: 'x',
      namespaces: ['team', 'other'],
      exists,
      action: async () => null,
      validator
    };
    act(() =>
      root.render(
        <MoveForm
          initial={{ namespace: 'team', name: 'x-copy-2' }}
          options={options}
          error={null}
          onChange={(state, valid) => changes.push([state, valid])}
        />
      )
    );
    // Not valid until the server has answered.
    expect(changes[changes.length - 1][1]).toBe(false);
    await checked();
    expect(asked[0]).toEqual({ namespace: 'team', environment_name: 'x-copy-2' });
    expect(changes[changes.length - 1][1]).toBe(true);

    type(input('environment-name'), 'x copy');
    await checked();
    expect(changes[changes.length - 1][1]).toBe(false);
    expect(host.textContent).toContain('May only contain letters, digits');

    type(input('environment-name'), 'x-copy');
    await checked();
    expect(host.textContent).toContain('team/x-copy already exists');

    type(input('namespace'), 'fresh');
    await checked();
    expect(changes[changes.length - 1]).toEqual([{ namespace: 'fresh', name: 'x-copy' }, true]);
    expect(host.textContent).toContain('Namespace fresh will be created.');
  });

  it('import: needs an archive, checks the namespace given, keeps the file when reopened', async () => {
    const changes: Array<[IImportState, boolean]> = [];
    const render = (initial: IImportState) =>
      act(() =>
        root.render(
          <ImportForm
            initial={initial}
            options={{ namespaces: ['default'], action: async () => null, validator }}
            error={initial.file ? 'Could not import a.tar.gz: not an archive' : null}
            onChange={(state, valid) => changes.push([state, valid])}
          />
        )
      );
    render({ file: null, namespace: '' });
    expect(changes[changes.length - 1][1]).toBe(false);
    expect(asked).toEqual([]); // an empty namespace is not checked

    type(input('namespace'), 'bad name');
    await checked();
    expect(host.textContent).toContain('May only contain letters, digits');

    act(() => root.unmount());
    root = createRoot(host);
    const file = new File(['x'.repeat(4096)], 'a.tar.gz');
    render({ file, namespace: 'imported' });
    await checked();
    expect(changes[changes.length - 1]).toEqual([{ file, namespace: 'imported' }, true]);
    expect(host.textContent).toContain('a.tar.gz (4 KiB)');
    expect(host.querySelector('[role="alert"]')?.textContent).toBe(
      'Could not import a.tar.gz: not an archive'
    );
  });
});
