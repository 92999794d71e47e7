/** The sidebar's content: toolbar, search and filters, the tree of namespaces, the footer. */
import { addIcon, fileUploadIcon, newFolderIcon, refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { SearchInput, errorText, useSignal } from '../components';
import { DraftStore } from '../drafts';
import { CondaStoreError } from '../request';
import { serverWord } from '../scale';
import { CommandIDs, IEnvironmentsModel } from '../tokens';
import { FilterBar, usePackageFilter, useServerSearch } from './filters';
import { SidebarFooter } from './footer';
import { StateFilter, groupRows, isFiltered } from './groups';
import { TreeView } from './treeview';

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

/**
 * Which namespaces are expanded: the model's choice when it loads namespaces lazily (a large
 * store), otherwise kept here (all expanded until collapsed).
 */
function useExpansion(model: IEnvironmentsModel): {
  isExpanded: (namespace: string) => boolean;
  expand: (namespace: string, open: boolean) => void;
} {
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  if (model.isExpanded && model.expand) {
    return {
      isExpanded: namespace => model.isExpanded!(namespace),
      expand: (namespace, open) => model.expand!(namespace, open)
    };
  }
  return {
    isExpanded: namespace => !collapsed.has(namespace),
    expand: (namespace, open) => {
      const next = new Set(collapsed);
      if (open) {
        next.delete(namespace);
      } else {
        next.add(namespace);
      }
      setCollapsed(next);
    }
  };
}

/**
 * What the server search is doing, when the store is too large to filter here: asked (or about
 * to be, once typing pauses), or answered with more matches than shown.
 */
function SearchStatus(props: {
  model: IEnvironmentsModel;
  searching: boolean;
}): JSX.Element | null {
  const search = props.model.search;
  const text = props.searching
    ? 'Searching every namespace…'
    : search && search.count > search.hits.length
      ? `The first ${search.hits.length} of ${search.count} environments named like ` +
        `“${search.query}”: type more to narrow.`
      : '';
  return text ? (
    <p className="jp-CondaStore-status jp-CondaStore-searchStatus" role="status">
      {text}
    </p>
  ) : null;
}

export function SidebarView(props: ISidebarProps): JSX.Element {
  const { model, commands, drafts } = props;
  useSignal(model.changed);
  useSignal(drafts?.changed);
  const [query, setQuery] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const [packageName, setPackageName] = useState('');
  const packageFilter = usePackageFilter(model, packageName);
  useServerSearch(model, query);
  const { isExpanded, expand } = useExpansion(model);
  const body = useRef<HTMLDivElement>(null);

  const draftList = drafts?.list() ?? [];
  const filters = { query, state, withPackage: packageFilter.ids };
  const filtered = isFiltered(filters) || !!packageName.trim();
  const isLoaded = (namespace: string) =>
    model.complete !== false || (isExpanded(namespace) && !model.isLoading?.(namespace));
  const groups = groupRows(model.namespaces, model.entries, draftList, filters, isLoaded);
  const word = model.complete === false ? serverWord(query) : '';
  const searching = !!word && (model.search?.query !== word || model.search.loading);

  const open = (namespace: string, name: string) =>
    void commands.execute(CommandIDs.openEnvironment, { namespace, name });
  const create = (namespace?: string) =>
    void commands.execute(CommandIDs.newEnvironment, namespace ? { namespace } : {});

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
          <IconButton
            icon={fileUploadIcon}
            label="Import environments…"
            onClick={() => void commands.execute(CommandIDs.importEnvironments)}
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
      <div className="jp-CondaStore-sidebarBody" ref={body}>
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
        {!!word && <SearchStatus model={model} searching={searching} />}
        {model.loaded &&
          !missing &&
          groups.length === 0 &&
          !packageFilter.loading &&
          !searching && (
            <EmptyState filtered={filtered} onCreate={() => create()} onClear={clearFilters} />
          )}
        {groups.length > 0 && (
          <TreeView
            groups={groups}
            filtered={filtered}
            isExpanded={isExpanded}
            expand={expand}
            open={open}
            create={create}
            usage={model.usage ? namespace => model.usage!(namespace) : undefined}
            scroller={body}
          />
        )}
      </div>
      <SidebarFooter model={model} />
    </div>
  );
}
