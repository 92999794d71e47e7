import { ReactWidget } from '@jupyterlab/apputils';
import {
  addIcon,
  caretDownIcon,
  caretRightIcon,
  newFolderIcon,
  refreshIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import React, { useMemo, useState } from 'react';

import { SearchInput, StateBadge, errorText, useSignal } from './components';
import { DraftStore } from './drafts';
import { condaIcon } from './icons';
import { STATE_LABELS } from './model';
import { CondaStoreError } from './request';
import { CommandIDs, IEnvironmentEntry, IEnvironmentsModel, SIDEBAR_ID } from './tokens';

interface ISidebarProps {
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

function matches(entry: IEnvironmentEntry, query: string): boolean {
  if (!query) {
    return true;
  }
  const { environment } = entry;
  const haystack = [environment.name, environment.namespace.name, environment.description ?? '']
    .join(' ')
    .toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every(word => haystack.includes(word));
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

function EnvironmentItem(props: {
  entry: IEnvironmentEntry;
  commands: CommandRegistry;
}): JSX.Element {
  const { environment, state, detail } = props.entry;
  const warn = state === 'ready' && / (failed|was canceled)\.$/.test(detail);
  const open = () =>
    void props.commands.execute(CommandIDs.openEnvironment, {
      namespace: environment.namespace.name,
      name: environment.name
    });
  return (
    <li
      className="jp-CondaStore-envItem"
      data-environment={`${environment.namespace.name}/${environment.name}`}
      data-state={state}
    >
      <button
        className="jp-CondaStore-envButton"
        onClick={open}
        title={`${environment.namespace.name}/${environment.name}: ${detail}${
          environment.description ? `\n${environment.description}` : ''
        }`}
        aria-label={`${environment.name}, ${STATE_LABELS[state]}${warn ? ', last build did not complete' : ''}`}
      >
        <span className="jp-CondaStore-envName">{environment.name}</span>
        {warn && (
          <span className="jp-CondaStore-warnDot" aria-hidden="true">
            !
          </span>
        )}
        <StateBadge state={state} />
      </button>
    </li>
  );
}

function NamespaceSection(props: {
  name: string;
  entries: IEnvironmentEntry[];
  collapsed: boolean;
  filtered: boolean;
  onToggle: () => void;
  commands: CommandRegistry;
}): JSX.Element {
  const listId = `jp-CondaStore-ns-${props.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const Caret = props.collapsed ? caretRightIcon : caretDownIcon;
  return (
    <section
      className="jp-CondaStore-namespace"
      data-namespace={props.name}
      aria-label={`Namespace ${props.name}`}
    >
      <div className="jp-CondaStore-namespaceHeader">
        <button
          className="jp-CondaStore-namespaceToggle"
          aria-expanded={!props.collapsed}
          aria-controls={listId}
          onClick={props.onToggle}
        >
          <Caret.react tag="span" elementSize="normal" />
          <span className="jp-CondaStore-namespaceName">{props.name}</span>
          <span className="jp-CondaStore-count" aria-label={`${props.entries.length} environments`}>
            {props.entries.length}
          </span>
        </button>
        <IconButton
          icon={addIcon}
          label={`New environment in ${props.name}`}
          onClick={() =>
            void props.commands.execute(CommandIDs.newEnvironment, { namespace: props.name })
          }
        />
      </div>
      {!props.collapsed && (
        <ul
          className="jp-CondaStore-envList"
          id={listId}
          aria-label={`Environments in ${props.name}`}
        >
          {props.entries.map(entry => (
            <EnvironmentItem key={entry.environment.id} entry={entry} commands={props.commands} />
          ))}
          {props.entries.length === 0 && (
            <li className="jp-CondaStore-empty">
              {props.filtered ? 'No matching environment.' : 'No environments yet.'}
            </li>
          )}
        </ul>
      )}
    </section>
  );
}

function SidebarView(props: ISidebarProps): JSX.Element {
  const { model, commands } = props;
  useSignal(model.changed);
  const [query, setQuery] = useState('');
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());

  const groups = useMemo(() => {
    const names = new Set<string>(model.namespaces.map(n => n.name));
    model.entries.forEach(e => names.add(e.environment.namespace.name));
    const result: Array<{ name: string; entries: IEnvironmentEntry[] }> = [];
    for (const name of Array.from(names).sort((a, b) => a.localeCompare(b))) {
      const all = model.entries.filter(e => e.environment.namespace.name === name);
      const shown = all.filter(e => matches(e, query));
      const namespaceMatches = !!query && name.toLowerCase().includes(query.toLowerCase());
      if (query && shown.length === 0 && !namespaceMatches) {
        continue;
      }
      result.push({ name, entries: shown });
    }
    return result;
  }, [model.entries, model.namespaces, query]);

  const building = model.entries.filter(e => e.activeBuildId !== null).length;
  const fatal = model.error && !model.loaded ? model.error : null;
  const missing = isUnusable(model.error);

  return (
    <div className="jp-CondaStore-sidebarContent">
      <header className="jp-CondaStore-header">
        <h2 title="Conda environments (conda-store)">Environments</h2>
        <div className="jp-CondaStore-toolbar" role="toolbar" aria-label="Environment actions">
          <IconButton
            icon={addIcon}
            label="New environment"
            onClick={() => void commands.execute(CommandIDs.newEnvironment)}
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
        {model.loaded && !missing && groups.length === 0 && (
          <div className="jp-CondaStore-emptyState">
            {query ? (
              <p>No environment matches “{query}”.</p>
            ) : (
              <>
                <p>No environments yet.</p>
                <button
                  className="jp-Button jp-mod-styled jp-mod-accept"
                  onClick={() => void commands.execute(CommandIDs.newEnvironment)}
                >
                  New environment
                </button>
              </>
            )}
          </div>
        )}
        {groups.map(group => (
          <NamespaceSection
            key={group.name}
            name={group.name}
            entries={group.entries}
            filtered={!!query}
            collapsed={collapsed.has(group.name) && !query}
            onToggle={() => {
              const next = new Set(collapsed);
              if (next.has(group.name)) {
                next.delete(group.name);
              } else {
                next.add(group.name);
              }
              setCollapsed(next);
            }}
            commands={commands}
          />
        ))}
      </div>
      <footer className="jp-CondaStore-footer">
        <span className="jp-CondaStore-liveStatus" role="status" aria-live="polite">
          {building > 0
            ? `${building} environment${building > 1 ? 's' : ''} building…`
            : model.loaded && !model.error
              ? 'Up to date'
              : ''}
        </span>
        {model.version && (
          <span className="jp-CondaStore-serverVersion" title="conda-store-jupyter server version">
            server <span className="jp-CondaStore-version">{model.version}</span>
          </span>
        )}
      </footer>
    </div>
  );
}

/** The left sidebar: namespaces, their environments and their states. */
export class CondaStoreSidebar extends ReactWidget {
  constructor(
    private readonly _model: IEnvironmentsModel,
    private readonly _commands: CommandRegistry,
    /** Unbuilt edits, listed with the environments (and as new ones when they are). */
    private readonly _drafts: DraftStore | null = null
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-CondaStore-sidebar');
    this.title.icon = condaIcon;
    this.title.caption = 'Conda environments (conda-store)';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'conda-store environments');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.active = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.active = false;
  }

  render(): JSX.Element {
    return <SidebarView model={this._model} commands={this._commands} drafts={this._drafts} />;
  }
}
