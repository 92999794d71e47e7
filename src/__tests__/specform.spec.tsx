/**
 * The form view: one list-field component edits channels, packages, pip packages and
 * variables, with the accessible names the browser tests use.
 */
import React from 'react';
import { act } from 'react';

import { ISpecForm } from '../spec';
import { ICondaStoreAPI } from '../tokens';
import { SpecForm } from '../view/specform';

// The icons only (the package's ES modules are not transformed for jest).
jest.mock('@jupyterlab/ui-components', () => ({
  addIcon: { react: () => null },
  closeIcon: { react: () => null }
}));

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
// react-dom ships no types here (no @types/react-dom among the dev dependencies).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRoot } = require('react-dom/client') as { createRoot: (host: Element) => IRoot };

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const FORM: ISpecForm = {
  name: 'demo',
  channels: ['conda-forge'],
  dependencies: [{ name: 'numpy', constraint: '>=1.2' }],
  pip: ['rich'],
  variables: [{ name: 'A', value: '1' }],
  extra: {}
};

const api = { searchPackages: async () => ['numpy'] } as unknown as ICondaStoreAPI;

let host: HTMLDivElement;
let root: IRoot;
let changes: ISpecForm[];

function render(form: ISpecForm): void {
  act(() =>
    root.render(
      <SpecForm form={form} onChange={next => changes.push(next)} api={api} defaultChannels={[]} />
    )
  );
}

function input(label: string): HTMLInputElement {
  const found = host.querySelector<HTMLInputElement>(`input[aria-label="${label}"]`);
  expect(found).not.toBeNull();
  return found!;
}

function button(label: string): HTMLButtonElement {
  const found = Array.from(host.querySelectorAll('button')).find(
    b => b.getAttribute('aria-label') === label || b.textContent === label
  );
  expect(found).toBeDefined();
  return found!;
}

function type(element: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  act(() => {
    setter.call(element, value);
    element.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

beforeEach(() => {
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  changes = [];
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
});

describe('SpecForm', () => {
  it('shows every list with the names the browser tests use', () => {
    render(FORM);
    expect(input('Channel 1').value).toBe('conda-forge');
    expect(input('Package 1 name').value).toBe('numpy');
    expect(input('Package 1 version').value).toBe('>=1.2');
    expect(input('Pip package 1').value).toBe('rich');
    expect(input('Variable 1 name').value).toBe('A');
    expect(input('Variable 1 value').value).toBe('1');
    for (const legend of ['Channels', 'Conda packages', 'Pip packages', 'Environment variables']) {
      expect(host.querySelector(`fieldset[aria-label="${legend}"]`)).not.toBeNull();
    }
  });

  it('edits, adds and removes rows through the one list field', () => {
    render(FORM);
    type(input('Package 1 version'), '<2');
    expect(changes.pop()!.dependencies).toEqual([{ name: 'numpy', constraint: '<2' }]);

    act(() => button('Add pip package').click());
    expect(changes.pop()!.pip).toEqual(['rich', '']);

    act(() => button('Remove variable A').click());
    expect(changes.pop()!.variables).toEqual([]);

    act(() => button('Add package').click());
    const added = changes.pop()!;
    expect(added.dependencies[1]).toEqual({ name: '', constraint: '' });
    render(added);
    expect(document.activeElement).toBe(input('Package 2 name'));
  });
});
