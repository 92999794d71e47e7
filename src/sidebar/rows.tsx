/** The items of the sidebar's tree: a namespace's header, an environment, a draft, "nothing here". */
import { addIcon, caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';

import type { IStoredDraft } from '../drafts';
import { EntryBadge, quotaLevel, usageDetail, usageText } from '../components';
import type { INamespaceUsage } from '../models';
import { STATE_LABELS, stateText } from '../model';
import type { IEnvironmentEntry } from '../tokens';
import { INamespaceGroup } from './groups';
import { treeItemProps } from './tree';

/** Tree keys: one per item, stable across renders. */
export const treeKey = {
  namespace: (namespace: string) => `ns:${namespace}`,
  environment: (namespace: string, name: string) => `env:${namespace}/${name}`,
  draft: (namespace: string, name: string) => `draft:${namespace}/${name}`,
  empty: (namespace: string) => `empty:${namespace}`
};

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * A namespace's header: it stays in view while its environments scroll by and, collapsed, still
 * says what fails or builds inside. Its "+" is no Tab stop: "+" on the keyboard does the same.
 */
export function NamespaceHeader(props: {
  group: INamespaceGroup;
  /** What it uses on disk, when the server says. */
  usage?: INamespaceUsage;
  collapsed: boolean;
  onToggle: () => void;
  onCreate: () => void;
}): JSX.Element {
  const { group, collapsed, usage } = props;
  const Caret = collapsed ? caretRightIcon : caretDownIcon;
  const count = group.rows.length;
  // A large store's collapsed namespace is not loaded: how many it holds is not known.
  const known = group.loaded || count > 0;
  const summary = [
    group.failed ? `${group.failed} failed` : '',
    group.building ? `${group.building} building` : '',
    group.queued ? `${group.queued} queued` : ''
  ].filter(Boolean);
  const used = usage ? `${usageText(usage)}${usage.quota ? ' quota used' : ' on disk'}` : '';
  return (
    <div
      className="jp-CondaStore-namespaceHeader"
      {...treeItemProps(
        { key: treeKey.namespace(group.name), namespace: group.name, header: true },
        1
      )}
      aria-expanded={!collapsed}
      aria-label={[group.name, known ? plural(count, 'environment') : '', ...summary, used]
        .filter(Boolean)
        .join(', ')}
      onClick={props.onToggle}
    >
      <Caret.react tag="span" elementSize="normal" />
      <span className="jp-CondaStore-namespaceName">{group.name}</span>
      {known && (
        <span className="jp-CondaStore-count" aria-hidden="true">
          {count}
        </span>
      )}
      {collapsed && group.failed > 0 && (
        <span className="jp-CondaStore-badge" data-state="failed" aria-hidden="true">
          {group.failed} failed
        </span>
      )}
      {collapsed && group.building > 0 && (
        <span className="jp-CondaStore-badge" data-state="building" aria-hidden="true">
          {group.building} building
        </span>
      )}
      {collapsed && group.queued > 0 && (
        <span className="jp-CondaStore-badge" data-state="queued" aria-hidden="true">
          {group.queued} queued
        </span>
      )}
      {usage && (
        <span
          className="jp-CondaStore-namespaceUsage jp-CondaStore-volatile"
          data-quota={quotaLevel(usage)}
          title={usageDetail(usage)}
          aria-hidden="true"
        >
          {usageText(usage)}
        </span>
      )}
      <button
        className="jp-CondaStore-iconButton"
        tabIndex={-1}
        aria-label={`New environment in ${group.name}`}
        title={`New environment in ${group.name} (+ on the keyboard)`}
        onClick={event => {
          event.stopPropagation();
          props.onCreate();
        }}
      >
        <addIcon.react tag="span" elementSize="normal" />
      </button>
    </div>
  );
}

/** An environment: its name in full (wrapped), its state, and a dot when it has unbuilt edits. */
export function EnvironmentRow(props: {
  entry: IEnvironmentEntry;
  draft: IStoredDraft | null;
  onOpen: () => void;
}): JSX.Element {
  const { entry, draft } = props;
  const { environment, state, detail } = entry;
  const namespace = environment.namespace.name;
  const warn = state === 'ready' && / (failed|was canceled)\.$/.test(detail);
  const badge = stateText(entry);
  const label = [
    environment.name,
    badge === STATE_LABELS[state] ? STATE_LABELS[state] : badge.replace(' · ', ', '),
    warn ? 'last build did not complete' : '',
    draft ? 'edited, not built' : ''
  ].filter(Boolean);
  return (
    <li role="none" className="jp-CondaStore-envItem">
      <div
        className="jp-CondaStore-envButton"
        {...treeItemProps({ key: treeKey.environment(namespace, environment.name), namespace }, 2)}
        data-environment={`${namespace}/${environment.name}`}
        data-state={state}
        data-edited={draft ? 'true' : undefined}
        title={`${namespace}/${environment.name}: ${detail}${
          draft ? '\nEdited: the changes are not built yet.' : ''
        }${environment.description ? `\n${environment.description}` : ''}`}
        aria-label={label.join(', ')}
        onClick={props.onOpen}
      >
        <span className="jp-CondaStore-envName">{environment.name}</span>
        {draft && (
          <span className="jp-CondaStore-edited" aria-hidden="true">
            edited
          </span>
        )}
        {warn && (
          <span className="jp-CondaStore-warnDot" aria-hidden="true">
            !
          </span>
        )}
        <EntryBadge entry={entry} />
      </div>
    </li>
  );
}

/** A new environment's draft, not created yet: it opens in its view, to be built from there. */
export function DraftRow(props: { draft: IStoredDraft; onOpen: () => void }): JSX.Element {
  const { draft } = props;
  return (
    <li role="none" className="jp-CondaStore-envItem">
      <div
        className="jp-CondaStore-envButton"
        {...treeItemProps(
          { key: treeKey.draft(draft.namespace, draft.name), namespace: draft.namespace },
          2
        )}
        data-environment={`${draft.namespace}/${draft.name}`}
        data-state="draft"
        title={`${draft.namespace}/${draft.name}: a draft, not created yet`}
        aria-label={`${draft.name}, draft, not created yet`}
        onClick={props.onOpen}
      >
        <span className="jp-CondaStore-envName">{draft.name}</span>
        <span className="jp-CondaStore-badge" data-state="draft">
          draft
        </span>
      </div>
    </li>
  );
}

/** A namespace with nothing to show: it offers to create an environment there. */
export function EmptyRow(props: {
  namespace: string;
  filtered: boolean;
  onCreate: () => void;
}): JSX.Element {
  if (props.filtered) {
    return (
      <li role="none" className="jp-CondaStore-empty">
        No matching environment.
      </li>
    );
  }
  return (
    <li role="none" className="jp-CondaStore-empty">
      <div
        className="jp-CondaStore-emptyItem"
        {...treeItemProps({ key: treeKey.empty(props.namespace), namespace: props.namespace }, 2)}
        aria-label={`No environments yet in ${props.namespace}: create one`}
        onClick={props.onCreate}
      >
        No environments yet. <span className="jp-CondaStore-linkText">New environment…</span>
      </div>
    </li>
  );
}

/** An expanded namespace whose environments are on their way. */
export function LoadingRow(props: { namespace: string }): JSX.Element {
  return (
    <li role="none" className="jp-CondaStore-empty jp-CondaStore-loadingRow" aria-busy="true">
      Loading the environments of {props.namespace}…
    </li>
  );
}
