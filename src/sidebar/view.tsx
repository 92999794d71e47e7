/** The sidebar's content: toolbar, search and filters, the tree of namespaces, the footer. */
import { addIcon, newFolderIcon, refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { SearchInput, errorText, useSignal } from '../components';
import { DraftStore } from '../drafts';
import { CondaStoreError } from '../request';
import { CommandIDs, IEnvironmentsModel } from '../tokens';
import { FilterBar, usePackageFilter } from './filters';
import { SidebarFooter } from './footer';
import { StateFilter, groupRows, isFiltered } from './groups';
import { DraftRow, EmptyRow, EnvironmentRow, NamespaceHeader, treeKey } from './rows';
import { TREE_KEYS_HELP, useTree } from './tree';

export interface ISidebarProps {
  model: IEnvironmentsModel;
  commands: CommandRegistry;
  drafts?: DraftStore | null;
}

function IconButton(props: {
  icon: typeof addIcon;
  label: string;
  onClick: () => void;
  disabled?: boolean;
}): JSX.Element {
  return (
    <button
      className="jp-CondaStore-iconButton"
      onClick={props.onClick}
      aria-label={props.label}
      title={props.label}
      disabled={props.disabled}
    >
      <props.icon.react tag="span" elementSize="normal" />
    </button>
  );
}

function MissingExtension(props: { error: CondaStoreError | Error }): JSX.Element {
  const { error } = props;
  const missing = error instanceof CondaStoreError && error.isExtensionMissing;
  const unavailable = error instanceof CondaStoreError && error.isExtensionUnavailable;
  return (
    <div className="jp-CondaStore-error" role="alert" data-state="error">
      <p>{unavailable ? error.message : errorText(error)}</p>
      {missing && (
        <p>
          Install the Python package <code>conda-store-jupyter</code> in the environment running
          Jupyter Server, check that <code>jupyter server extension list</code> shows{' '}
          <code>conda_store_jupyter</code> enabled, then restart the server.
        </p>
      )}
      {unavailable && (
        <p>
          Correct that setting (in <code>jupyter_server_config.py</code> or on the command line) and
          restart Jupyter Server. The server's log says the same.
        </p>
      )}
    </div>
  );
}

/** The extension cannot serve anything: it is not installed, or it could not start. */
function isUnusable(error: Error | null): boolean {
  return (
    error instanceof CondaStoreError && (error.isExtensionMissing || error.isExtensionUnavailable)
  );
}

/** Nothing to list: say why, and offer what to do next. */
function EmptyState(props: {
  filtered: boolean;
  onCreate: () => void;
  onClear: () => void;
}): JSX.Element {
  return (
    <div className="jp-CondaStore-emptyState">
      <p>
        {props.filtered
          ? 'No environment matches these filters.'
          : 'No environments yet. An environment is a set of conda packages, built once and ' +
            'usable as a kernel.'}
      </p>
      <div className="jp-CondaStore-emptyActions">
        <button className="jp-Button jp-mod-styled jp-mod-accept" onClick={props.onCreate}>
          New environment…
        </button>
        {props.filtered && (
          <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={props.onClear}>
            Clear filters
          </button>
        )}
      </div>
    </div>
  );
}

export function SidebarView(props: ISidebarProps): JSX.Element {
  const { model, commands, drafts } = props;
  useSignal(model.changed);
  useSignal(drafts?.changed);
  const [query, setQuery] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const [packageName, setPackageName] = useState('');
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const packageFilter = usePackageFilter(model, packageName);

  const draftList = drafts?.list() ?? [];
  const filters = { query, state, withPackage: packageFilter.ids };
  const filtered = isFiltered(filters) || !!packageName.trim();
  const groups = groupRows(model.namespaces, model.entries, draftList, filters);

  const open = (namespace: string, name: string) =>
    void commands.execute(CommandIDs.openEnvironment, { namespace, name });
  const create = (namespace?: string) =>
    void commands.execute(CommandIDs.newEnvironment, namespace ? { namespace } : {});
  const isExpanded = (namespace: string) => filtered || !collapsed.has(namespace);
  const expand = (namespace: string, show: boolean) => {
    const next = new Set(collapsed);
    if (show) {
      next.delete(namespace);
    } else {
      next.add(namespace);
    }
    setCollapsed(next);
  };
  // What Enter does on each item, rebuilt with the rows.
  const activations = useRef(new Map<string, () => void>());
  activations.current.clear();
  const tree = useTree({
    activate: key => activations.current.get(key)?.(),
    expand,
    isExpanded,
    create
  });

  const fatal = model.error && !model.loaded ? model.error : null;
  const missing = isUnusable(model.error);
  const clearFilters = () => {
    setQuery('');
    setState('all');
    setPackageName('');
  };

  return (
    <div className="jp-CondaStore-sidebarContent">
      <header className="jp-CondaStore-header">
        <h2 title="Conda environments (conda-store)">Environments</h2>
        <div className="jp-CondaStore-toolbar" role="toolbar" aria-label="Environment actions">
          <IconButton
            icon={addIcon}
            label="New environment"
            onClick={() => create()}
            disabled={missing}
          />
          <IconButton
            icon={newFolderIcon}
            label="New namespace"
            onClick={() => void commands.execute(CommandIDs.newNamespace)}
            disabled={missing}
          />
          <IconButton icon={refreshIcon} label="Refresh" onClick={() => void model.refresh()} />
        </div>
      </header>
      <div className="jp-CondaStore-search">
        <SearchInput
          label="Search environments"
          value={query}
          onChange={setQuery}
          disabled={missing}
        />
        <FilterBar
          state={state}
          onState={setState}
          packageName={packageName}
          onPackage={setPackageName}
          packageFilter={packageFilter}
          disabled={missing}
        />
      </div>
      <div className="jp-CondaStore-sidebarBody">
        {!model.loaded && !model.error && (
          <p className="jp-CondaStore-status" role="status">
            Connecting to conda-store…
          </p>
        )}
        {model.error && (missing || fatal) && <MissingExtension error={model.error} />}
        {model.error && !missing && !fatal && (
          <div className="jp-CondaStore-error" role="alert">
            {errorText(model.error, 'refresh the environments')} Retrying…
          </div>
        )}
        {packageFilter.loading && (
          <p className="jp-CondaStore-status" role="status">
            Looking for environments with {packageName.trim()}…
          </p>
        )}
        {model.loaded && !missing && groups.length === 0 && !packageFilter.loading && (
          <EmptyState filtered={filtered} onCreate={() => create()} onClear={clearFilters} />
        )}
        {groups.length > 0 && (
          <div
            className="jp-CondaStore-tree"
            role="tree"
            aria-label="Environments by namespace"
            title={TREE_KEYS_HELP}
            ref={tree.ref}
            onKeyDown={tree.onKeyDown}
            onFocus={tree.onFocus}
          >
            {groups.map(group => {
              const shown = isExpanded(group.name);
              activations.current.set(treeKey.namespace(group.name), () =>
                expand(group.name, !shown)
              );
              activations.current.set(treeKey.empty(group.name), () => create(group.name));
              return (
                <section
                  key={group.name}
                  className="jp-CondaStore-namespace"
                  data-namespace={group.name}
                  role="none"
                >
                  <NamespaceHeader
                    group={group}
                    collapsed={!shown}
                    onToggle={() => expand(group.name, !shown)}
                    onCreate={() => create(group.name)}
                  />
                  {shown && (
                    <ul className="jp-CondaStore-envList" role="none">
                      {group.rows.map(row => {
                        if (row.kind === 'draft') {
                          const { namespace, name } = row.draft;
                          const go = () => open(namespace, name);
                          activations.current.set(treeKey.draft(namespace, name), go);
                          return <DraftRow key={`draft:${name}`} draft={row.draft} onOpen={go} />;
                        }
                        const { environment } = row.entry;
                        const go = () => open(group.name, environment.name);
                        activations.current.set(
                          treeKey.environment(group.name, environment.name),
                          go
                        );
                        return (
                          <EnvironmentRow
                            key={environment.id}
                            entry={row.entry}
                            draft={row.draft}
                            onOpen={go}
                          />
                        );
                      })}
                      {group.rows.length === 0 && (
                        <EmptyRow
                          namespace={group.name}
                          filtered={filtered}
                          onCreate={() => create(group.name)}
                        />
                      )}
                    </ul>
                  )}
                </section>
              );
            })}
          </div>
        )}
      </div>
      <SidebarFooter model={model} />
    </div>
  );
}
