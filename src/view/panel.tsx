import { Dialog, MainAreaWidget, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { CodeEditor } from '@jupyterlab/codeeditor';
import {
  consoleIcon,
  copyIcon,
  deleteIcon,
  downloadIcon,
  editIcon,
  notebookIcon,
  refreshIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import React, { useRef, useState } from 'react';

import { ErrorMessage, StateBadge, useSignal } from '../components';
import { condaIcon } from '../icons';
import { CommandIDs } from '../tokens';
import { IBuild, isActive, isCollected, isRestoring } from '../models';
import { ArtifactsView } from './artifacts';
import { BuildStatusBadge, BuildsView } from './builds';
import { LogView } from './log';
import { EnvironmentViewModel, TABS, ViewTab } from './model';
import { PackagesView } from './packages';
import { SpecificationView, goToBuildLine } from './specification';
import { EnvironmentWidget } from './widget';

export interface IPanelOptions {
  model: EnvironmentViewModel;
  commands: CommandRegistry;
  editorFactory: CodeEditor.Factory | null;
}

/** A DOM id for an environment's view. */
export function viewId(namespace: string, name: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, c => `_${c.charCodeAt(0).toString(16)}`);
  return `jp-CondaStore-env-${safe(namespace)}--${safe(name)}`;
}

function UseIt(props: { model: EnvironmentViewModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
  const [error, setError] = useState<unknown>(null);
  const kernel = model.kernel;
  const current = model.usableBuildId;
  const building = model.builds.some(b => isActive(b.status));
  const lastFailed = model.builds[0]?.status === 'FAILED';
  const hint = kernel
    ? `Kernel “${kernel.displayName}”`
    : !model.kernelChecked
      ? 'Looking for the kernel…'
      : current === null && lastFailed
        ? `Build ${model.builds[0].id} failed, so there is no kernel: see its log, fix the specification and build again.`
        : current === null
          ? building
            ? 'A kernel appears when the build completes.'
            : 'A kernel appears when a build completes.'
          : 'No kernel: add ipykernel to the specification to use this environment in notebooks.';
  const open = async (command: string, args: Record<string, unknown>) => {
    setError(null);
    try {
      await commands.execute(command, args as ReadonlyPartialJSONObject);
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <div className="jp-CondaStore-useIt" role="group" aria-label="Use this environment">
      {/* Focusable while disabled: focus waits here after "Save and build" (specification.tsx). */}
      <button
        className="jp-CondaStore-toolButton jp-CondaStore-openNotebook"
        aria-disabled={!kernel}
        title={kernel ? `New notebook with ${kernel.displayName}` : hint}
        onClick={() => kernel && void open('notebook:create-new', { kernelName: kernel.name })}
      >
        <notebookIcon.react tag="span" elementSize="normal" />
        <span>Open notebook</span>
      </button>
      <button
        className="jp-CondaStore-toolButton"
        disabled={!kernel}
        title={kernel ? `New console with ${kernel.displayName}` : hint}
        onClick={() => void open('console:create', { kernelPreference: { name: kernel!.name } })}
      >
        <consoleIcon.react tag="span" elementSize="normal" />
        <span>Open console</span>
      </button>
      <span className="jp-CondaStore-muted jp-CondaStore-kernelHint" data-kernel={kernel?.name}>
        {hint}
      </span>
      <ErrorMessage error={error} doing="open it" onDismiss={() => setError(null)} />
    </div>
  );
}

function Header(props: { model: EnvironmentViewModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
  const entry = model.entry;
  // What failed, in words ("delete the environment"), with the error.
  const [failure, setFailure] = useState<{ doing: string; error: unknown } | null>(null);
  const setError = (error: unknown, doing = 'delete the environment') =>
    setFailure(error ? { doing, error } : null);
  const environment = { namespace: model.namespace, name: model.name };
  const run = async (command: string, doing: string) => {
    setFailure(null);
    try {
      await commands.execute(command, environment);
    } catch (reason) {
      setError(reason, doing);
    }
  };
  const remove = async () => {
    const result = await showDialog({
      title: `Delete ${model.namespace}/${model.name}?`,
      body: `The environment, all its builds, their files and its kernel are removed. Running kernels of it stop working. This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete environment' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await model.deleteEnvironment();
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <header className="jp-CondaStore-viewHeader">
      <div className="jp-CondaStore-viewTitle">
        <h1>
          <span className="jp-CondaStore-muted">{model.namespace} / </span>
          {model.name}
        </h1>
        {model.isDraft ? (
          <span className="jp-CondaStore-badge" data-state="empty">
            draft
          </span>
        ) : (
          entry && <StateBadge state={entry.state} title={entry.detail} />
        )}
        <span className="jp-CondaStore-spacer" />
        {!model.isDraft && (
          <>
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => void model.refresh()}
              aria-label="Refresh"
              title="Refresh"
            >
              <refreshIcon.react tag="span" elementSize="normal" />
            </button>
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => void run(CommandIDs.exportEnvironment, 'export the environment')}
              aria-label="Export"
              title="Export: download the environment and its builds, to import elsewhere"
            >
              <downloadIcon.react tag="span" elementSize="normal" />
            </button>
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => void run(CommandIDs.copyEnvironment, 'copy the environment')}
              aria-label="Copy…"
              title="Copy… under another name or in another namespace"
            >
              <copyIcon.react tag="span" elementSize="normal" />
            </button>
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => void run(CommandIDs.renameEnvironment, 'rename the environment')}
              aria-label="Rename…"
              title="Rename… or move to another namespace"
            >
              <editIcon.react tag="span" elementSize="normal" />
            </button>
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => void remove()}
              aria-label="Delete environment"
              title="Delete environment"
            >
              <deleteIcon.react tag="span" elementSize="normal" />
            </button>
          </>
        )}
      </div>
      {entry && !model.isDraft && (
        <p
          className="jp-CondaStore-viewDetail jp-CondaStore-volatile"
          role="status"
          aria-live="polite"
        >
          {entry.detail}
          {entry.state === 'failed' && model.tab !== 'log' && (
            <>
              {' '}
              <button className="jp-CondaStore-linkButton" onClick={() => (model.tab = 'log')}>
                See the log
              </button>
            </>
          )}
          {model.environment?.description ? ` — ${model.environment.description}` : ''}
        </p>
      )}
      {model.isDraft && (
        <p className="jp-CondaStore-viewDetail">
          Review the specification, then press <strong>Save and build</strong> to create it.
        </p>
      )}
      <ErrorMessage
        error={failure?.error}
        doing={failure?.doing}
        onDismiss={() => setFailure(null)}
      />
      {!model.isDraft && <UseIt model={model} commands={props.commands} />}
    </header>
  );
}

/** A build's status in words, as the build picker lists it. */
function statusWords(build: IBuild): string {
  if (isRestoring(build)) {
    return 'restoring';
  }
  return isCollected(build) ? 'collected' : build.status.toLowerCase();
}

function BuildPicker(props: { model: EnvironmentViewModel }): JSX.Element | null {
  const { model } = props;
  if (!model.builds.length) {
    return null;
  }
  const selected = model.selectedBuild;
  return (
    <div className="jp-CondaStore-buildPicker">
      <label>
        Build{' '}
        <select
          className="jp-CondaStore-select jp-CondaStore-volatile"
          aria-label="Selected build"
          value={model.selectedBuildId ?? ''}
          onChange={e => model.selectBuild(Number(e.target.value))}
        >
          {model.builds.map(b => (
            <option key={b.id} value={b.id}>
              {`build ${b.id} — ${statusWords(b)}${b.id === model.currentBuildId ? ' (current)' : ''}`}
            </option>
          ))}
        </select>
      </label>
      {selected && <BuildStatusBadge build={selected} />}
      {selected && selected.id === model.currentBuildId && (
        <span className="jp-CondaStore-currentMarker">current</span>
      )}
    </div>
  );
}

function Tabs(props: { model: EnvironmentViewModel }): JSX.Element {
  const { model } = props;
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const enabled = TABS.filter(t => !model.isDraft || t.id === 'specification');
  const onKey = (event: React.KeyboardEvent, index: number) => {
    let next = -1;
    if (event.key === 'ArrowRight') {
      next = (index + 1) % enabled.length;
    } else if (event.key === 'ArrowLeft') {
      next = (index - 1 + enabled.length) % enabled.length;
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = enabled.length - 1;
    }
    if (next >= 0) {
      event.preventDefault();
      model.tab = enabled[next].id;
      refs.current[enabled[next].id]?.focus();
    }
  };
  const running = model.builds.some(b => isActive(b.status));
  return (
    <div className="jp-CondaStore-tabs" role="tablist" aria-label="Environment sections">
      {enabled.map((tab, index) => (
        <button
          key={tab.id}
          ref={node => (refs.current[tab.id] = node)}
          role="tab"
          id={`${model.namespace}-${model.name}-tab-${tab.id}`.replace(/[^A-Za-z0-9_-]/g, '_')}
          aria-selected={model.tab === tab.id}
          tabIndex={model.tab === tab.id ? 0 : -1}
          className={`jp-CondaStore-tab${model.tab === tab.id ? ' jp-mod-active' : ''}`}
          onClick={() => (model.tab = tab.id)}
          onKeyDown={event => onKey(event, index)}
          data-tab={tab.id}
        >
          {tab.label}
          {tab.id === 'log' && running && (
            <span className="jp-CondaStore-liveDot" aria-label="(live)" />
          )}
          {tab.id === 'builds' && model.builds.length > 0 && (
            <span className="jp-CondaStore-count">{model.builds.length}</span>
          )}
        </button>
      ))}
    </div>
  );
}

function TabPanel(props: {
  model: EnvironmentViewModel;
  id: ViewTab;
  children: React.ReactNode;
}): JSX.Element {
  const { model, id } = props;
  const tabId = `${model.namespace}-${model.name}-tab-${id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return (
    <div
      role="tabpanel"
      aria-labelledby={tabId}
      hidden={model.tab !== id}
      className="jp-CondaStore-tabPanel"
      data-panel={id}
    >
      {props.children}
    </div>
  );
}

function EnvironmentViewContent(props: IPanelOptions): JSX.Element {
  const { model, commands, editorFactory } = props;
  useSignal(model.changed);

  if (model.isMissing) {
    return (
      <div className="jp-CondaStore-view">
        <div className="jp-CondaStore-emptyState" role="status">
          <p>
            Environment{' '}
            <strong>
              {model.namespace}/{model.name}
            </strong>{' '}
            does not exist (any more).
          </p>
        </div>
      </div>
    );
  }
  const selected = model.selectedBuild;
  return (
    <div className="jp-CondaStore-view">
      <Header model={model} commands={commands} />
      {model.loadError && (
        <ErrorMessage error={model.loadError} doing="load the environment (retrying)" />
      )}
      {!model.loaded && !model.isDraft && !model.loadError && (
        <p className="jp-CondaStore-muted" role="status">
          Loading…
        </p>
      )}
      {(model.loaded || model.isDraft) && (
        <>
          <Tabs model={model} />
          <TabPanel model={model} id="specification">
            <SpecificationView model={model} editorFactory={editorFactory} />
          </TabPanel>
          {!model.isDraft && (
            <>
              <TabPanel model={model} id="builds">
                <BuildsView model={model} />
              </TabPanel>
              <TabPanel model={model} id="log">
                <BuildPicker model={model} />
                <LogView
                  log={model.log}
                  api={model.api}
                  build={selected}
                  onCancel={selected ? () => model.cancel(selected.id) : undefined}
                  onGoToLine={(id, line, column) => void goToBuildLine(model, id, line, column)}
                />
              </TabPanel>
              <TabPanel model={model} id="packages">
                <BuildPicker model={model} />
                <PackagesView model={model} />
              </TabPanel>
              <TabPanel model={model} id="artifacts">
                <BuildPicker model={model} />
                <ArtifactsView api={model.api} build={selected} />
              </TabPanel>
            </>
          )}
        </>
      )}
    </div>
  );
}

/** The content of an environment's tab: a React view of its model. */
export class EnvironmentPanel extends ReactWidget {
  constructor(private readonly _options: IPanelOptions) {
    super();
    this.addClass('jp-CondaStore-viewPanel');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute(
      'aria-label',
      `Environment ${_options.model.namespace}/${_options.model.name}`
    );
  }

  get model(): EnvironmentViewModel {
    return this._options.model;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.active = true;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.active = this.isVisible;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.active = false;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return <EnvironmentViewContent {...this._options} />;
  }
}

/** The main-area widget (one per environment) around an environment's panel. */
export function createEnvironmentWidget(options: IPanelOptions): MainAreaWidget<EnvironmentPanel> {
  const content = new EnvironmentPanel(options);
  const widget = new EnvironmentWidget({ content });
  const { namespace, name } = options.model;
  widget.id = viewId(namespace, name);
  widget.title.label = name;
  widget.title.caption = `Conda environment ${namespace}/${name}`;
  widget.title.icon = condaIcon;
  widget.title.closable = true;
  widget.addClass('jp-CondaStore-viewWidget');
  return widget;
}
