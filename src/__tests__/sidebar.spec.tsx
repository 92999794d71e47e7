/**
 * The sidebar: what it lists under the filters (states, packages, drafts), the words of its
 * badges and footer, its empty state, and its keyboard navigation.
 */
import { Signal } from '@lumino/signaling';
import React from 'react';
import { act } from 'react';

import { DraftStore, IStoredDraft } from '../drafts';
import { entryOf, stateText } from '../model';
import { INamespace } from '../models';
import { NO_FILTERS, activityText, groupRows, updatedText } from '../sidebar/groups';
import { SidebarView } from '../sidebar/view';
import { CommandIDs, IEnvironmentEntry, IEnvironmentsModel } from '../tokens';
import { build, env, ns } from './fixtures';

jest.mock('@jupyterlab/ui-components', () => {
  const icon = { react: () => null };
  return {
    addIcon: icon,
    caretDownIcon: icon,
    caretRightIcon: icon,
    fileUploadIcon: icon,
    newFolderIcon: icon,
    refreshIcon: icon
  };
});

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRoot } = require('react-dom/client') as { createRoot: (host: Element) => IRoot };
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** default: a (ready), b (ready, rebuilding), c (failed); team: d (queued #2, first build). */
function entries(): IEnvironmentEntry[] {
  const done = build(1, 1, 'COMPLETED');
  const failed = build(3, 3, 'FAILED');
  const queued = { ...build(4, 4, 'QUEUED'), queue_position: 2 };
  return [
    entryOf(env(1, 'default', 'a', done), undefined, done),
    entryOf(env(2, 'default', 'b', done), build(2, 2, 'BUILDING'), undefined),
    entryOf(env(3, 'default', 'c', failed), undefined, failed),
    entryOf(env(4, 'team', 'd', queued), queued, queued)
  ];
}

function draft(namespace: string, name: string, isNew: boolean): IStoredDraft {
  return { namespace, name, text: 'dependencies: []', isLockfile: false, isNew, savedAt: 1 };
}

const NAMESPACES = [ns(1, 'default'), ns(2, 'team'), ns(3, 'empty')];

const names = (groups: ReturnType<typeof groupRows>) =>
  groups.map(g => [
    g.name,
    g.rows.map(r => (r.kind === 'environment' ? r.entry.environment.name : `*${r.draft.name}`))
  ]);

describe('what the sidebar lists', () => {
  it('every namespace, its environments and its new drafts, with counts', () => {
    const groups = groupRows(NAMESPACES, entries(), [draft('team', 'new', true)], NO_FILTERS);
    expect(names(groups)).toEqual([
      ['default', ['a', 'b', 'c']],
      ['empty', []],
      ['team', ['d', '*new']]
    ]);
    expect(groups[0]).toMatchObject({ failed: 1, building: 1, queued: 0 });
    expect(groups[2]).toMatchObject({ failed: 0, building: 0, queued: 1 });
  });

  it('marks an environment that has a draft', () => {
    const [first] = groupRows(NAMESPACES, entries(), [draft('default', 'a', false)], NO_FILTERS);
    const row = first.rows[0];
    expect(row.kind === 'environment' && row.draft?.name).toBe('a');
  });

  it('narrows by state (a rebuilt environment is still ready), package and words', () => {
    const all = entries();
    const by = (filters: Partial<typeof NO_FILTERS>) =>
      names(
        groupRows(NAMESPACES, all, [draft('team', 'new', true)], { ...NO_FILTERS, ...filters })
      );
    expect(by({ state: 'ready' })).toEqual([['default', ['a', 'b']]]);
    expect(by({ state: 'building' })).toEqual([['default', ['b']]]);
    expect(by({ state: 'queued' })).toEqual([['team', ['d']]]);
    expect(by({ state: 'failed' })).toEqual([['default', ['c']]]);
    expect(by({ withPackage: new Set([1, 4]) })).toEqual([
      ['default', ['a']],
      ['team', ['d']]
    ]);
    expect(by({ query: 'new' })).toEqual([['team', ['*new']]]);
    expect(by({ query: 'nothing-like-it' })).toEqual([]);
  });

  it('says ready while rebuilding, and where a build waits', () => {
    expect(entries().map(stateText)).toEqual([
      'ready',
      'ready · rebuilding',
      'failed',
      'queued #2'
    ]);
    expect(activityText(entries())).toBe('1 building, 1 queued');
    expect(activityText([])).toBe('');
  });

  it('says when it refreshed, truthfully as time passes', () => {
    const then = new Date(1_000_000);
    expect(updatedText(null, 0)).toBe('');
    expect(updatedText(then, 1_000_000 + 20_000)).toBe('Updated just now');
    expect(updatedText(then, 1_000_000 + 5 * 60_000)).toBe('Updated 5 min ago');
  });
});

describe('SidebarView', () => {
  let host: HTMLDivElement;
  let root: IRoot;
  let executed: Array<[string, unknown]>;

  function render(
    list: IEnvironmentEntry[],
    drafts: DraftStore | null = null,
    more: Partial<IEnvironmentsModel> = {},
    namespaces: INamespace[] = NAMESPACES
  ): void {
    const model = {
      changed: new Signal<object, void>({}),
      namespaces: list.length ? namespaces : [],
      entries: list,
      loaded: true,
      error: null,
      version: '1.0',
      building: false,
      updated: new Date(),
      idleInterval: 10_000,
      active: true,
      refresh: async () => undefined,
      entry: () => undefined,
      ...more
    } as unknown as IEnvironmentsModel;
    const commands = {
      execute: async (id: string, args: unknown) => {
        executed.push([id, args]);
      }
    };
    act(() =>
      root.render(<SidebarView model={model} commands={commands as never} drafts={drafts} />)
    );
  }

  beforeEach(() => {
    executed = [];
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
  });

  afterEach(() => {
    act(() => root.unmount());
    host.remove();
  });

  const items = () => Array.from(host.querySelectorAll<HTMLElement>('[role="treeitem"]'));
  const key = (target: Element, k: string) =>
    act(() => {
      target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
    });

  it('offers to create the first environment', () => {
    render([]);
    expect(host.textContent).toContain('No environments yet.');
    const button = Array.from(host.querySelectorAll('button')).find(
      b => b.textContent === 'New environment…'
    )!;
    act(() => button.click());
    expect(executed).toEqual([[CommandIDs.newEnvironment, {}]]);
    expect(host.textContent).toContain('Updated just now');
  });

  it('is one Tab stop that arrows, Enter, Left, Right and + drive', () => {
    const drafts = new DraftStore(null);
    drafts.save(draft('team', 'new', true));
    render(entries(), drafts);
    const tree = host.querySelector('[role="tree"]')!;
    expect(items().filter(i => i.tabIndex === 0)).toHaveLength(1);
    expect(items()[0].getAttribute('aria-label')).toMatch(/^default, 3 environments/);

    act(() => items()[0].focus());
    key(items()[0], 'ArrowDown');
    expect(document.activeElement?.getAttribute('data-environment')).toBe('default/a');
    expect(items().filter(i => i.tabIndex === 0)[0]).toBe(document.activeElement);
    key(document.activeElement!, 'Enter');
    expect(executed.pop()).toEqual([
      CommandIDs.openEnvironment,
      { namespace: 'default', name: 'a' }
    ]);
    key(document.activeElement!, '+');
    expect(executed.pop()).toEqual([CommandIDs.newEnvironment, { namespace: 'default' }]);

    // Left goes up to the header, Left again collapses it: the header then sums up the failure.
    key(document.activeElement!, 'ArrowLeft');
    expect(document.activeElement).toBe(items()[0]);
    key(items()[0], 'ArrowLeft');
    expect(items()[0].getAttribute('aria-expanded')).toBe('false');
    expect(items()[0].textContent).toContain('1 failed');
    expect(items()[0].textContent).toContain('1 building');
    key(items()[0], 'ArrowRight');
    expect(items()[0].getAttribute('aria-expanded')).toBe('true');

    // End: the last item is the new environment's draft, which opens like an environment.
    key(items()[0], 'End');
    expect(document.activeElement?.textContent).toContain('draft');
    key(document.activeElement!, 'Enter');
    expect(executed.pop()).toEqual([
      CommandIDs.openEnvironment,
      { namespace: 'team', name: 'new' }
    ]);
    key(document.activeElement!, 'Home');
    expect(document.activeElement).toBe(items()[0]);
    expect(tree.getAttribute('title')).toMatch(/Arrow keys/);
    drafts.dispose();
  });

  /** `count` ready environments in namespace "big", plus the usual ones. */
  function many(count: number): IEnvironmentEntry[] {
    const done = build(1, 1, 'COMPLETED');
    const big = Array.from({ length: count }, (_, i) =>
      entryOf(env(100 + i, 'big', `e${String(i).padStart(5, '0')}`, done), undefined, done)
    );
    return [...entries(), ...big];
  }

  it('draws only a window of a long list, and the keys still reach every item', () => {
    render(many(5000), null, {}, [...NAMESPACES, ns(4, 'big')]);
    const tree = host.querySelector('[role="tree"]')!;
    expect(tree.classList.contains('jp-mod-virtual')).toBe(true);
    expect(items().length).toBeGreaterThan(10);
    expect(items().length).toBeLessThan(100);
    // The rows left out still take their room: the tree is as tall as all its rows.
    const list = host.querySelector<HTMLElement>('[data-namespace="big"] ul')!;
    expect(parseInt(list.style.paddingBottom)).toBeGreaterThan(4900 * 28);
    const below = tree.lastElementChild as HTMLElement; // default, empty and team
    expect(parseInt(below.style.height)).toBe(8 * 28);

    act(() => items()[0].focus());
    key(items()[0], 'End');
    expect(document.activeElement?.getAttribute('data-environment')).toBe('team/d');
    key(document.activeElement!, 'ArrowUp');
    expect(document.activeElement?.getAttribute('data-key')).toBe('ns:team');
    key(document.activeElement!, 'ArrowUp');
    expect(document.activeElement?.getAttribute('data-key')).toBe('empty:empty');
    expect(items().filter(i => i.tabIndex === 0)).toEqual([document.activeElement]);
    expect(items().length).toBeLessThan(100);
    key(document.activeElement!, 'Home');
    expect(document.activeElement?.getAttribute('data-key')).toBe('ns:big');
  });

  it('loads a namespace when expanded, and sends the words to the server', async () => {
    const expanded = new Set(['default']);
    const asked: string[] = [];
    const calls: Array<[string, boolean]> = [];
    render(entries().slice(0, 3), null, {
      complete: false,
      search: null,
      isExpanded: (namespace: string) => expanded.has(namespace),
      isLoading: (namespace: string) => namespace === 'team',
      expand: (namespace: string, open: boolean) => {
        calls.push([namespace, open]);
        if (open) {
          expanded.add(namespace);
        } else {
          expanded.delete(namespace);
        }
      },
      find: async (query: string) => {
        asked.push(query);
      }
    } as Partial<IEnvironmentsModel>);
    const header = (name: string) => host.querySelector<HTMLElement>(`[data-key="ns:${name}"]`)!;
    // Collapsed and not loaded: how many it holds is not known.
    expect(header('team').getAttribute('aria-expanded')).toBe('false');
    expect(header('team').getAttribute('aria-label')).toBe('team');
    expect(header('default').getAttribute('aria-label')).toMatch(/^default, 3 environments/);
    act(() => header('team').click());
    expect(calls).toEqual([['team', true]]);
    render(entries().slice(0, 3), null, {
      complete: false,
      isExpanded: (namespace: string) => expanded.has(namespace),
      isLoading: (namespace: string) => namespace === 'team',
      find: async (query: string) => {
        asked.push(query);
      }
    } as Partial<IEnvironmentsModel>);
    expect(host.querySelector('[data-namespace="team"]')?.textContent).toContain(
      'Loading the environments of team…'
    );
    const search = host.querySelector<HTMLInputElement>('input[type="search"]')!;
    jest.useFakeTimers();
    try {
      act(() => {
        const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
        setter.call(search, 'needle');
        search.dispatchEvent(new Event('input', { bubbles: true }));
      });
      act(() => jest.advanceTimersByTime(400));
    } finally {
      jest.useRealTimers();
    }
    expect(asked[asked.length - 1]).toBe('needle');
    // Until the server answers, it says it searches (not that nothing matches).
    expect(host.textContent).toContain('Searching every namespace…');
    expect(host.textContent).not.toContain('No environment matches');
  });
});
