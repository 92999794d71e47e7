/** The Specification tab: the YAML editor, the form view, the server's problems, submit. */
import { CodeEditor } from '@jupyterlab/codeeditor';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { ErrorMessage, errorText, useSignal } from '../components';
import { ISpecForm, formToYaml, readSpec } from '../spec';
import { ISpecIssue, specIssues, useValidation } from '../validation';
import { EnvironmentViewModel } from './model';
import { SpecForm } from './specform';

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
  /** The list is being checked again (it is for an earlier text). */
  pending?: boolean;
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
      aria-busy={props.pending || undefined}
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
  const written = useRef<string | null>(null);
  const editor = useRef<CodeEditor.IEditor | null>(null);

  const text = model.specText;
  const parsed = useMemo(() => readSpec(text), [text]);
  const lockfile = parsed.kind === 'lockfile';
  const request = useMemo(
    // What a submit sends (a lock file's name is the environment's).
    () =>
      text.trim()
        ? {
            specification: text,
            is_lockfile: lockfile,
            namespace: model.namespace,
            environment_name: model.name
          }
        : null,
    [text, lockfile, model.namespace, model.name]
  );
  const check = useValidation(model.api, request);
  const issues = useMemo(() => {
    const found = specIssues(check.result);
    const name = check.result?.name;
    if (check.result?.valid && !lockfile && name && name !== model.name) {
      found.push({
        severity: 'warning',
        message: `name is '${name}' but this is environment '${model.name}': it will be built as '${model.name}'`
      });
    }
    return found;
  }, [check.result, lockfile, model.name]);
  const invalid = !!check.result && !check.result.valid && !check.pending;

  // The server's default channels, for the form's placeholder: fetched once by the model.
  useSignal(model.channels.changed);
  useEffect(() => {
    void model.loadChannels().catch(() => undefined);
  }, [model]);
  const defaultChannels = model.channels.state.value ?? [];

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
      target.setCursorPosition({
        line: issue.line - 1,
        column: Math.max(0, (issue.column ?? 1) - 1)
      });
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

  const formUnavailable = parsed.form ? '' : parsed.reason;
  const blocked = !text.trim() || submitting || check.pending || invalid;
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
      <IssueList issues={issues} onGoTo={goTo} pending={check.pending} />
      {!!check.error && (
        <p className="jp-CondaStore-muted" role="status">
          {errorText(check.error, 'check the specification').replace(/\.$/, '')}. The server checks
          it again when it is submitted.
        </p>
      )}
      <ErrorMessage
        error={submitError}
        doing="build this specification"
        onDismiss={() => setSubmitError(null)}
      />
      <div className="jp-CondaStore-buttons">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          onClick={() => void submit()}
          disabled={blocked}
          title={
            invalid
              ? 'Fix the errors first'
              : check.pending
                ? 'Checking the specification…'
                : 'Save this specification and build it; the environment switches to it when the build completes'
          }
        >
          {submitting ? 'Submitting…' : 'Save and build'}
        </button>
        {!model.isDraft && model.specDirty && (
          <button
            className="jp-Button jp-mod-styled jp-mod-reject"
            onClick={() => model.revertSpec()}
          >
            Discard changes
          </button>
        )}
      </div>
    </div>
  );
}
