import { CodeEditor } from '@jupyterlab/codeeditor';
import { addIcon, closeIcon } from '@jupyterlab/ui-components';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { ErrorMessage } from '../components';
import {
  IDependency,
  ISpecForm,
  ISpecIssue,
  IVariable,
  formToYaml,
  parseSpec
} from '../spec';
import { ICondaStoreAPI } from '../tokens';
import { EnvironmentViewModel } from './model';

let nextId = 0;
function useUid(prefix: string): string {
  const ref = useRef<string>();
  if (!ref.current) {
    ref.current = `${prefix}-${++nextId}`;
  }
  return ref.current;
}

// -------------------------------------------------------------------------------------------
// The YAML editor: JupyterLab's CodeMirror through the editor services

interface IYamlEditorProps {
  factory: CodeEditor.Factory;
  value: string;
  onChange: (value: string) => void;
  onEditor?: (editor: CodeEditor.IEditor | null) => void;
  label: string;
}

export function YamlEditor(props: IYamlEditorProps): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const model = useRef<CodeEditor.Model>();
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  useEffect(() => {
    const editorModel = new CodeEditor.Model({ mimeType: 'text/x-yaml' });
    editorModel.sharedModel.setSource(props.value);
    model.current = editorModel;
    const editor = props.factory({
      host: host.current!,
      model: editorModel,
      config: { lineNumbers: true, lineWrap: false, tabSize: 2, indentUnit: '2' } as Record<
        string,
        unknown
      >
    });
    const contentNode = host.current!.querySelector('.cm-content');
    contentNode?.setAttribute('aria-label', props.label);
    const changed = () => onChange.current(editorModel.sharedModel.getSource());
    editorModel.sharedModel.changed.connect(changed);
    props.onEditor?.(editor);
    return () => {
      props.onEditor?.(null);
      editorModel.sharedModel.changed.disconnect(changed);
      editor.dispose();
      editorModel.dispose();
      model.current = undefined;
    };
  }, [props.factory]);

  // Text set from outside (the form, loading a build's specification, revert).
  useEffect(() => {
    const shared = model.current?.sharedModel;
    if (shared && shared.getSource() !== props.value) {
      shared.setSource(props.value);
    }
  }, [props.value]);

  return <div className="jp-CondaStore-yamlEditor" ref={host} />;
}

// -------------------------------------------------------------------------------------------
// Issues

function IssueList(props: {
  issues: ISpecIssue[];
  onGoTo?: (issue: ISpecIssue) => void;
}): JSX.Element | null {
  if (!props.issues.length) {
    return null;
  }
  const errors = props.issues.filter(i => i.severity === 'error').length;
  return (
    <div
      className="jp-CondaStore-issues"
      role={errors ? 'alert' : 'status'}
      aria-label="Problems in the specification"
    >
      <ul>
        {props.issues.map((issue, index) => (
          <li key={index} className="jp-CondaStore-issue" data-severity={issue.severity}>
            <span className="jp-CondaStore-issueSeverity">
              {issue.severity === 'error' ? 'Error' : 'Warning'}
            </span>
            {issue.line !== undefined && props.onGoTo ? (
              <button
                className="jp-CondaStore-linkButton"
                onClick={() => props.onGoTo!(issue)}
                aria-label={`Go to line ${issue.line}`}
              >
                line {issue.line}
              </button>
            ) : issue.line !== undefined ? (
              <span className="jp-CondaStore-muted">line {issue.line}</span>
            ) : null}
            <span className="jp-CondaStore-issueMessage">{issue.message}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

// -------------------------------------------------------------------------------------------
// The form view

function useCompletion(api: ICondaStoreAPI): [string[], (prefix: string) => void] {
  const [names, setNames] = useState<string[]>([]);
  const timer = useRef<number>();
  const last = useRef<string>('');
  const ask = (prefix: string) => {
    const query = prefix.trim().replace(/^.*::/, '');
    if (query === last.current) {
      return;
    }
    last.current = query;
    window.clearTimeout(timer.current);
    if (!query) {
      setNames([]);
      return;
    }
    timer.current = window.setTimeout(() => {
      api
        .searchPackages(query)
        .then(result => {
          if (last.current === query) {
            setNames(result);
          }
        })
        .catch(() => setNames([]));
    }, 150);
  };
  useEffect(() => () => window.clearTimeout(timer.current), []);
  return [names, ask];
}

function RowButton(props: { label: string; onClick: () => void }): JSX.Element {
  return (
    <button
      className="jp-CondaStore-iconButton"
      onClick={props.onClick}
      aria-label={props.label}
      title={props.label}
    >
      <closeIcon.react tag="span" elementSize="normal" />
    </button>
  );
}

function AddButton(props: { label: string; onClick: () => void }): JSX.Element {
  return (
    <button className="jp-CondaStore-addButton" onClick={props.onClick}>
      <addIcon.react tag="span" elementSize="normal" />
      <span>{props.label}</span>
    </button>
  );
}

interface IFormProps {
  form: ISpecForm;
  onChange: (form: ISpecForm) => void;
  api: ICondaStoreAPI;
  defaultChannels: string[];
}

export function SpecForm(props: IFormProps): JSX.Element {
  const { form, onChange, api } = props;
  const listId = useUid('jp-CondaStore-packageNames');
  const [names, complete] = useCompletion(api);
  const focusRef = useRef<string | null>(null);
  const root = useRef<HTMLDivElement>(null);

  // After adding a row, focus its first input.
  useEffect(() => {
    if (focusRef.current && root.current) {
      const input = root.current.querySelector<HTMLInputElement>(focusRef.current);
      input?.focus();
      focusRef.current = null;
    }
  });

  const update = (patch: Partial<ISpecForm>) => onChange({ ...form, ...patch });
  const setDependency = (index: number, patch: Partial<IDependency>) =>
    update({
      dependencies: form.dependencies.map((d, i) => (i === index ? { ...d, ...patch } : d))
    });
  const setVariable = (index: number, patch: Partial<IVariable>) =>
    update({ variables: form.variables.map((v, i) => (i === index ? { ...v, ...patch } : v)) });

  return (
    <div className="jp-CondaStore-form" ref={root}>
      <datalist id={listId}>
        {names.map(name => (
          <option key={name} value={name} />
        ))}
      </datalist>

      <fieldset className="jp-CondaStore-fieldset">
        <legend>Description</legend>
        <input
          className="jp-CondaStore-input jp-CondaStore-wide"
          aria-label="Description"
          placeholder="What this environment is for (optional)"
          value={form.description ?? ''}
          onChange={e => update({ description: e.target.value || undefined })}
        />
      </fieldset>

      <fieldset className="jp-CondaStore-fieldset" aria-label="Channels">
        <legend>Channels</legend>
        {form.channels.length === 0 && (
          <p className="jp-CondaStore-muted">
            None listed: the server's default channel
            {props.defaultChannels.length === 1 ? '' : 's'}{' '}
            {props.defaultChannels.length ? (
              <code>{props.defaultChannels.join(', ')}</code>
            ) : (
              ''
            )}{' '}
            {props.defaultChannels.length === 1 ? 'is' : 'are'} used.
          </p>
        )}
        {form.channels.map((channel, index) => (
          <div className="jp-CondaStore-row" key={`c${index}`} data-row="channel">
            <input
              className="jp-CondaStore-input jp-CondaStore-wide"
              aria-label={`Channel ${index + 1}`}
              placeholder="conda-forge or a URL"
              value={channel}
              onChange={e =>
                update({ channels: form.channels.map((c, i) => (i === index ? e.target.value : c)) })
              }
            />
            <RowButton
              label={`Remove channel ${channel || index + 1}`}
              onClick={() => update({ channels: form.channels.filter((_, i) => i !== index) })}
            />
          </div>
        ))}
        <AddButton
          label="Add channel"
          onClick={() => {
            focusRef.current = '[data-row="channel"]:last-of-type input';
            update({ channels: [...form.channels, ''] });
          }}
        />
      </fieldset>

      <fieldset className="jp-CondaStore-fieldset" aria-label="Conda packages">
        <legend>Conda packages</legend>
        {form.dependencies.length > 0 && (
          <div className="jp-CondaStore-row jp-CondaStore-rowHeader" aria-hidden="true">
            <span>Package</span>
            <span>Version constraint</span>
            <span />
          </div>
        )}
        {form.dependencies.map((dependency, index) => (
          <div className="jp-CondaStore-row" key={`d${index}`} data-row="package">
            <input
              className="jp-CondaStore-input"
              aria-label={`Package ${index + 1} name`}
              placeholder="name, e.g. numpy"
              list={listId}
              value={dependency.name}
              autoComplete="off"
              onFocus={e => complete(e.target.value)}
              onChange={e => {
                complete(e.target.value);
                setDependency(index, { name: e.target.value });
              }}
            />
            <input
              className="jp-CondaStore-input"
              aria-label={`Package ${index + 1} version`}
              placeholder="any version, e.g. >=1.2,<2"
              value={dependency.constraint}
              onChange={e => setDependency(index, { constraint: e.target.value })}
            />
            <RowButton
              label={`Remove package ${dependency.name || index + 1}`}
              onClick={() =>
                update({ dependencies: form.dependencies.filter((_, i) => i !== index) })
              }
            />
          </div>
        ))}
        <AddButton
          label="Add package"
          onClick={() => {
            focusRef.current = '[data-row="package"]:last-of-type input';
            update({ dependencies: [...form.dependencies, { name: '', constraint: '' }] });
          }}
        />
      </fieldset>

      <fieldset className="jp-CondaStore-fieldset" aria-label="Pip packages">
        <legend>Pip packages</legend>
        {form.pip.map((requirement, index) => (
          <div className="jp-CondaStore-row" key={`p${index}`} data-row="pip">
            <input
              className="jp-CondaStore-input jp-CondaStore-wide"
              aria-label={`Pip package ${index + 1}`}
              placeholder="requirement, e.g. requests>=2.31"
              value={requirement}
              onChange={e =>
                update({ pip: form.pip.map((p, i) => (i === index ? e.target.value : p)) })
              }
            />
            <RowButton
              label={`Remove pip package ${requirement || index + 1}`}
              onClick={() => update({ pip: form.pip.filter((_, i) => i !== index) })}
            />
          </div>
        ))}
        <AddButton
          label="Add pip package"
          onClick={() => {
            focusRef.current = '[data-row="pip"]:last-of-type input';
            update({ pip: [...form.pip, ''] });
          }}
        />
      </fieldset>

      <fieldset className="jp-CondaStore-fieldset" aria-label="Environment variables">
        <legend>Environment variables</legend>
        {form.variables.map((variable, index) => (
          <div className="jp-CondaStore-row" key={`v${index}`} data-row="variable">
            <input
              className="jp-CondaStore-input"
              aria-label={`Variable ${index + 1} name`}
              placeholder="NAME"
              value={variable.name}
              onChange={e => setVariable(index, { name: e.target.value })}
            />
            <input
              className="jp-CondaStore-input"
              aria-label={`Variable ${index + 1} value`}
              placeholder="value"
              value={variable.value}
              onChange={e => setVariable(index, { value: e.target.value })}
            />
            <RowButton
              label={`Remove variable ${variable.name || index + 1}`}
              onClick={() => update({ variables: form.variables.filter((_, i) => i !== index) })}
            />
          </div>
        ))}
        <AddButton
          label="Add variable"
          onClick={() => {
            focusRef.current = '[data-row="variable"]:last-of-type input';
            update({ variables: [...form.variables, { name: '', value: '' }] });
          }}
        />
      </fieldset>
    </div>
  );
}

// -------------------------------------------------------------------------------------------
// The Specification tab

type Mode = 'yaml' | 'form';

export function SpecificationView(props: {
  model: EnvironmentViewModel;
  editorFactory: CodeEditor.Factory | null;
}): JSX.Element {
  const { model, editorFactory } = props;
  const [mode, setMode] = useState<Mode>('yaml');
  const [form, setForm] = useState<ISpecForm | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [defaultChannels, setDefaultChannels] = useState<string[]>([]);
  const written = useRef<string | null>(null);
  const editor = useRef<CodeEditor.IEditor | null>(null);

  const text = model.specText;
  const parsed = useMemo(
    () => parseSpec(text, { environmentName: model.name }),
    [text, model.name]
  );

  useEffect(() => {
    let live = true;
    model.api
      .channels()
      .then(channels => live && setDefaultChannels(channels.map(c => c.name)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [model.api]);

  // The text changed from elsewhere (loaded, reverted) while the form shows: follow it.
  useEffect(() => {
    if (mode === 'form' && text !== written.current) {
      if (parsed.form) {
        setForm(parsed.form);
        written.current = text;
      } else {
        setMode('yaml');
      }
    }
  }, [text, mode]);

  const switchTo = (next: Mode) => {
    if (next === mode) {
      return;
    }
    if (next === 'form') {
      if (!parsed.form) {
        return;
      }
      setForm(parsed.form);
      written.current = text;
    }
    setMode(next);
  };

  const onFormChange = (next: ISpecForm) => {
    setForm(next);
    const yaml = formToYaml(next, text);
    written.current = yaml;
    model.setSpecText(yaml);
  };

  const goTo = (issue: ISpecIssue) => {
    if (mode !== 'yaml') {
      setMode('yaml');
    }
    const target = editor.current;
    if (target && issue.line !== undefined) {
      target.setCursorPosition({ line: issue.line - 1, column: Math.max(0, (issue.column ?? 1) - 1) });
      target.focus();
    }
  };

  const submit = async () => {
    setSubmitting(true);
    setSubmitError(null);
    try {
      await model.submit();
    } catch (error) {
      setSubmitError(error);
    } finally {
      setSubmitting(false);
    }
  };

  const lockfile = parsed.kind === 'lockfile';
  const formUnavailable = lockfile
    ? 'A conda-lock file is installed exactly as locked: edit it as YAML.'
    : !parsed.form
      ? 'Fix the problems listed below to use the form.'
      : '';
  const baseBuild = model.specBaseBuildId;

  return (
    <div className="jp-CondaStore-spec">
      <div className="jp-CondaStore-specToolbar">
        <div className="jp-CondaStore-segmented" role="radiogroup" aria-label="Edit as">
          <button
            role="radio"
            aria-checked={mode === 'yaml'}
            className={mode === 'yaml' ? 'jp-mod-active' : ''}
            onClick={() => switchTo('yaml')}
          >
            YAML
          </button>
          <button
            role="radio"
            aria-checked={mode === 'form'}
            className={mode === 'form' ? 'jp-mod-active' : ''}
            onClick={() => switchTo('form')}
            disabled={mode === 'yaml' && !!formUnavailable}
            title={formUnavailable || 'Edit channels, packages and variables in a form'}
          >
            Form
          </button>
        </div>
        <span className="jp-CondaStore-muted jp-CondaStore-specBase jp-CondaStore-volatile">
          {model.isDraft
            ? 'New environment: not built yet.'
            : model.specLoading
              ? 'Loading the specification…'
              : baseBuild !== null
                ? `From build ${baseBuild}${model.specDirty ? ', edited' : ''}`
                : ''}
        </span>
        {!model.isDraft && model.builds.length > 1 && (
          <label className="jp-CondaStore-muted">
            Load from{' '}
            <select
              className="jp-CondaStore-select"
              aria-label="Load the specification of a build"
              value=""
              onChange={e => {
                if (e.target.value) {
                  void model.loadSpecFromBuild(Number(e.target.value));
                }
              }}
            >
              <option value="">build…</option>
              {model.builds.map(b => (
                <option key={b.id} value={b.id}>
                  build {b.id} ({b.status.toLowerCase()}
                  {b.id === model.currentBuildId ? ', current' : ''})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {lockfile && (
        <p className="jp-CondaStore-notice" role="status">
          This is a conda-lock file: it is installed exactly as locked.
        </p>
      )}
      <div hidden={mode !== 'yaml'} className="jp-CondaStore-yamlPane">
        {editorFactory ? (
          <YamlEditor
            factory={editorFactory}
            value={text}
            onChange={value => model.setSpecText(value)}
            onEditor={value => (editor.current = value)}
            label={`Specification of ${model.namespace}/${model.name} (YAML)`}
          />
        ) : (
          <textarea
            className="jp-CondaStore-textarea"
            aria-label={`Specification of ${model.namespace}/${model.name} (YAML)`}
            value={text}
            onChange={e => model.setSpecText(e.target.value)}
            spellCheck={false}
          />
        )}
      </div>
      {mode === 'form' && form && (
        <SpecForm
          form={form}
          onChange={onFormChange}
          api={model.api}
          defaultChannels={defaultChannels}
        />
      )}
      <IssueList issues={parsed.issues} onGoTo={goTo} />
      <ErrorMessage
        error={submitError}
        doing="build this specification"
        onDismiss={() => setSubmitError(null)}
      />
      <div className="jp-CondaStore-buttons">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          onClick={() => void submit()}
          disabled={!parsed.valid || submitting || !text.trim()}
          title={
            parsed.valid
              ? 'Save this specification and build it; the environment switches to it when the build completes'
              : 'Fix the errors first'
          }
        >
          {submitting ? 'Submitting…' : 'Save and build'}
        </button>
        {!model.isDraft && model.specDirty && (
          <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={() => model.revertSpec()}>
            Discard changes
          </button>
        )}
      </div>
    </div>
  );
}
