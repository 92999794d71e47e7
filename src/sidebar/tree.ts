/**
 * Keyboard navigation of the sidebar's tree: one Tab stop (a roving tabindex over its items),
 * arrows, Home and End to move, Right and Left to expand and collapse, Enter to open, "+" to
 * create an environment in the namespace of the focused item.
 */
import React, { useCallback, useLayoutEffect, useRef, useState } from 'react';

/** What a tree item does: set on its element as data-* attributes (see `treeItemProps`). */
export interface ITreeItem {
  /** Unique in the tree: `ns:<namespace>`, `env:<namespace>/<name>`... */
  key: string;
  namespace: string;
  /** A namespace's header, which expands and collapses. */
  header?: boolean;
}

export interface ITreeActions {
  /** Enter or a click: open the environment, toggle the namespace, create from an empty one. */
  activate: (key: string) => void;
  /** Expand (true) or collapse (false) a namespace. */
  expand: (namespace: string, open: boolean) => void;
  isExpanded: (namespace: string) => boolean;
  /** "+": a new environment in the namespace. */
  create: (namespace: string) => void;
}

/** Keys the tree handles, for the tree's title. */
export const TREE_KEYS_HELP =
  'Arrow keys move, Right and Left expand and collapse a namespace, Enter opens, ' +
  '+ creates an environment in the namespace';

const ITEM = '[role="treeitem"]';

function itemsOf(tree: HTMLElement | null): HTMLElement[] {
  return tree ? Array.from(tree.querySelectorAll<HTMLElement>(ITEM)) : [];
}

/**
 * Roving focus over the tree's items: the item whose key is `current` (or else the first drawn)
 * is the only one with tabindex 0; moving focus moves it. The keys move along `order`, every
 * item of the tree whether drawn or not (a virtual tree draws the rows in view): `reveal` brings
 * an item into view, and it is focused once drawn.
 */
export function useTree(
  actions: ITreeActions,
  order: ReadonlyArray<ITreeItem>,
  reveal: (key: string) => void = () => undefined
): {
  ref: React.RefObject<HTMLDivElement>;
  current: string | null;
  onKeyDown: (event: React.KeyboardEvent) => void;
  onFocus: (event: React.FocusEvent) => void;
} {
  const ref = useRef<HTMLDivElement>(null);
  const [current, setCurrent] = useState<string | null>(null);
  // An item to focus once it is drawn.
  const pending = useRef<string | null>(null);

  const find = (key: string) =>
    itemsOf(ref.current).find(item => item.dataset.key === key) ?? undefined;

  // After every render: exactly one item is a Tab stop, even once the current one is gone; an
  // item scrolled into view to be focused now is.
  useLayoutEffect(() => {
    const items = itemsOf(ref.current);
    const stop = items.find(item => item.dataset.key === current) ?? items[0];
    for (const item of items) {
      item.tabIndex = item === stop ? 0 : -1;
    }
    const wanted = pending.current ? find(pending.current) : undefined;
    if (wanted) {
      pending.current = null;
      wanted.focus();
    }
  });

  const focus = useCallback(
    (item: ITreeItem | undefined) => {
      if (!item) {
        return;
      }
      setCurrent(item.key);
      const drawn = find(item.key);
      if (drawn) {
        drawn.focus();
      } else {
        pending.current = item.key;
      }
      reveal(item.key);
    },
    [reveal]
  );

  const onFocus = useCallback((event: React.FocusEvent) => {
    const item = (event.target as HTMLElement).closest<HTMLElement>(ITEM);
    if (item?.dataset.key) {
      setCurrent(item.dataset.key);
    }
  }, []);

  const onKeyDown = useCallback(
    (event: React.KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.getAttribute('role') !== 'treeitem') {
        return; // a control inside an item handles its own keys
      }
      const index = order.findIndex(item => item.key === target.dataset.key);
      const { key = '', treeNamespace: namespace = '' } = target.dataset;
      const header = target.dataset.header === 'true';
      let handled = true;
      switch (event.key) {
        case 'ArrowDown':
          focus(order[index + 1]);
          break;
        case 'ArrowUp':
          focus(index > 0 ? order[index - 1] : undefined);
          break;
        case 'Home':
          focus(order[0]);
          break;
        case 'End':
          focus(order[order.length - 1]);
          break;
        case 'ArrowRight':
          if (header && !actions.isExpanded(namespace)) {
            actions.expand(namespace, true);
          } else if (header) {
            const next = order[index + 1];
            focus(next?.namespace === namespace ? next : undefined);
          }
          break;
        case 'ArrowLeft':
          if (header && actions.isExpanded(namespace)) {
            actions.expand(namespace, false);
          } else if (!header) {
            focus(order.find(i => i.header && i.namespace === namespace));
          }
          break;
        case 'Enter':
        case ' ':
          actions.activate(key);
          break;
        case '+':
          actions.create(namespace);
          break;
        default:
          handled = false;
      }
      if (handled) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    [actions, focus, order]
  );

  return { ref, current, onKeyDown, onFocus };
}

/** The attributes that make an element an item of the tree. */
export function treeItemProps(
  item: ITreeItem,
  level: number
): React.HTMLAttributes<HTMLElement> & Record<`data-${string}`, string> {
  return {
    role: 'treeitem',
    tabIndex: -1,
    'aria-level': level,
    'data-key': item.key,
    'data-tree-namespace': item.namespace,
    'data-header': item.header ? 'true' : 'false'
  };
}
