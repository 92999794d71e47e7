/**
 * The tree as one list of rows: a header per namespace, then (expanded) its environments, or a
 * row saying it loads or holds nothing. Virtualisation places rows by index; keyboard navigation
 * moves along the items in this order, drawn or not.
 */
import { INamespaceGroup, SidebarRow } from './groups';
import { treeKey } from './rows';
import type { ITreeItem } from './tree';

/** What comes under an expanded namespace's header. */
export type BodyRow = { kind: 'row'; row: SidebarRow } | { kind: 'empty' } | { kind: 'loading' };

export interface ISection {
  group: INamespaceGroup;
  expanded: boolean;
  /** The index of its header in the whole list. */
  start: number;
  body: BodyRow[];
}

export interface IFlatTree {
  sections: ISection[];
  /** Rows in all: headers and bodies. */
  total: number;
  /** The tree's items in order (the rows one can focus). */
  items: ITreeItem[];
  /** Each item's row (its index in the whole list), by key. */
  positions: Map<string, number>;
}

export function rowKey(namespace: string, row: SidebarRow): string {
  return row.kind === 'draft'
    ? treeKey.draft(namespace, row.draft.name)
    : treeKey.environment(namespace, row.entry.environment.name);
}

export function flatten(
  groups: ReadonlyArray<INamespaceGroup>,
  isShown: (group: INamespaceGroup) => boolean,
  filtered: boolean
): IFlatTree {
  const sections: ISection[] = [];
  const items: ITreeItem[] = [];
  const positions = new Map<string, number>();
  let total = 0;
  for (const group of groups) {
    const expanded = isShown(group);
    const namespace = group.name;
    const start = total;
    const add = (key: string, row: number, header = false) => {
      items.push({ key, namespace, header });
      positions.set(key, row);
    };
    add(treeKey.namespace(namespace), start, true);
    let body: BodyRow[] = [];
    if (expanded && !group.loaded && group.rows.length === 0) {
      body = [{ kind: 'loading' }];
    } else if (expanded && group.rows.length === 0) {
      body = [{ kind: 'empty' }];
      if (!filtered) {
        add(treeKey.empty(namespace), start + 1);
      }
    } else if (expanded) {
      body = group.rows.map(row => ({ kind: 'row', row }));
      group.rows.forEach((row, index) => add(rowKey(namespace, row), start + 1 + index));
    }
    sections.push({ group, expanded, start, body });
    total += 1 + body.length;
  }
  return { sections, total, items, positions };
}
