/** The sidebar's tree of namespaces and environments, drawn whole or, when long, virtually. */
import React, { useRef } from 'react';

import type { INamespaceUsage } from '../models';
import { ISection, flatten } from './flat';
import { INamespaceGroup } from './groups';
import { DraftRow, EmptyRow, EnvironmentRow, LoadingRow, NamespaceHeader, treeKey } from './rows';
import { TREE_KEYS_HELP, useTree } from './tree';
import { IWindow, ROW_HEIGHT, useVirtualWindow } from './virtual';

export interface ITreeViewProps {
  groups: ReadonlyArray<INamespaceGroup>;
  filtered: boolean;
  isExpanded: (namespace: string) => boolean;
  expand: (namespace: string, open: boolean) => void;
  open: (namespace: string, name: string) => void;
  create: (namespace?: string) => void;
  /** What a namespace uses on disk, when known (one request for the store: see model.ts). */
  usage?: (namespace: string) => INamespaceUsage | undefined;
  /** The element that scrolls the tree (virtualisation follows it). */
  scroller: React.RefObject<HTMLElement>;
}

/** The part of a section's body to draw, and the height of what is left out above and below. */
function slice(section: ISection, window: IWindow | null): [number, number] {
  if (!window) {
    return [0, section.body.length];
  }
  const clamp = (n: number) => Math.min(section.body.length, Math.max(0, n));
  const from = clamp(window.first - section.start - 1);
  return [from, Math.max(from, clamp(window.last - section.start))];
}

export function TreeView(props: ITreeViewProps): JSX.Element {
  const { groups, filtered, isExpanded, expand, open, create } = props;
  // While filtering, a namespace with matches shows them, collapsed or not.
  const shown = (group: INamespaceGroup) =>
    isExpanded(group.name) || (filtered && group.rows.length > 0);
  const flat = flatten(groups, shown, filtered);

  // What Enter does on each item.
  const activate = (key: string) => {
    const item = flat.items.find(i => i.key === key);
    if (!item) {
      return;
    }
    if (item.header) {
      expand(item.namespace, !isExpanded(item.namespace));
    } else if (key === treeKey.empty(item.namespace)) {
      create(item.namespace);
    } else {
      open(item.namespace, key.slice(key.indexOf('/') + 1));
    }
  };
  const revealRef = useRef<(index: number) => void>(() => undefined);
  const tree = useTree({ activate, expand, isExpanded, create }, flat.items, key =>
    revealRef.current(flat.positions.get(key) ?? 0)
  );
  const { window, reveal } = useVirtualWindow(props.scroller, tree.ref, flat.total);
  revealRef.current = reveal;

  const drawn = window
    ? flat.sections.filter(s => s.start <= window.last && s.start + s.body.length >= window.first)
    : flat.sections;
  const last = drawn[drawn.length - 1];
  const above = window ? (drawn[0]?.start ?? flat.total) * ROW_HEIGHT : 0;
  const below = window && last ? (flat.total - last.start - 1 - last.body.length) * ROW_HEIGHT : 0;

  return (
    <div
      className={`jp-CondaStore-tree${window ? ' jp-mod-virtual' : ''}`}
      role="tree"
      aria-label="Environments by namespace"
      title={TREE_KEYS_HELP}
      ref={tree.ref}
      onKeyDown={tree.onKeyDown}
      onFocus={tree.onFocus}
    >
      {above > 0 && <div style={{ height: above }} aria-hidden="true" />}
      {drawn.map(section => {
        const { group } = section;
        const [from, to] = slice(section, window);
        return (
          <section
            key={group.name}
            className="jp-CondaStore-namespace"
            data-namespace={group.name}
            role="none"
          >
            <NamespaceHeader
              group={group}
              usage={props.usage?.(group.name)}
              collapsed={!section.expanded}
              onToggle={() => expand(group.name, !isExpanded(group.name))}
              onCreate={() => create(group.name)}
            />
            {section.expanded && (
              <ul
                className="jp-CondaStore-envList"
                role="none"
                style={
                  window
                    ? {
                        paddingTop: from * ROW_HEIGHT,
                        paddingBottom: (section.body.length - to) * ROW_HEIGHT
                      }
                    : undefined
                }
              >
                {section.body.slice(from, to).map(body => {
                  if (body.kind === 'loading') {
                    return <LoadingRow key="loading" namespace={group.name} />;
                  }
                  if (body.kind === 'empty') {
                    return (
                      <EmptyRow
                        key="empty"
                        namespace={group.name}
                        filtered={filtered}
                        onCreate={() => create(group.name)}
                      />
                    );
                  }
                  const { row } = body;
                  if (row.kind === 'draft') {
                    const { namespace, name } = row.draft;
                    return (
                      <DraftRow
                        key={`draft:${name}`}
                        draft={row.draft}
                        onOpen={() => open(namespace, name)}
                      />
                    );
                  }
                  const { environment } = row.entry;
                  return (
                    <EnvironmentRow
                      key={environment.id}
                      entry={row.entry}
                      draft={row.draft}
                      onOpen={() => open(group.name, environment.name)}
                    />
                  );
                })}
              </ul>
            )}
          </section>
        );
      })}
      {below > 0 && <div style={{ height: below }} aria-hidden="true" />}
    </div>
  );
}
