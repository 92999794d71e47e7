/** The Specification tab: the YAML editor, the form view, the server's problems, submit. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { CodeEditor } from '@jupyterlab/codeeditor';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { ErrorMessage, errorText, useSignal } from '../components';
import { ISpecForm, formToYaml, readSpec } from '../spec';
import { ISpecIssue, specIssues, useValidation } from '../validation';
import { WouldInstall, useSolveCheck } from './checkresult';
import { IssueList } from './issues';
import { EnvironmentViewModel } from './model';
import { SpecForm } from './specform';
import { packageNameAt, replacePackageName } from './suggestion';
import { YamlEditor } from './yamleditor';

/** Replacing edited text asks first (the edits would be lost). */
export async function confirmReplaceEdits(model: EnvironmentViewModel): Promise<boolean> {
  if (!model.specDirty) {
    return true;
  }
  const result = await showDialog({
    title: 'Replace your edits?',
    body: `The specification of ${model.namespace}/${model.name} has edits that were not built. Loading another build's specification replaces them.`,
    buttons: [
      Dialog.cancelButton({ label: 'Keep editing' }),
      Dialog.warnButton({ label: 'Replace' })
    ]
  });
  return result.button.accept;
}

/** Show `line` of build `id`'s specification in the editor (asking before replacing edits). */
export async function goToBuildLine(
  model: EnvironmentViewModel,
  id: number,
  line: number,
  column: number
): Promise<void> {
  if (model.specBaseBuildId === id || (await confirmReplaceEdits(model))) {
    await model.showSpecLine(id, line, column).catch(() => undefined);
  }
}

/** The editor shows another build than the one in use: say so, and offer the one in use. */
function OtherBuildBanner(props: { model: EnvironmentViewModel }): JSX.Element | null {
  const { model } = props;
  const shown = model.specBaseBuildId;
  const current = model.currentBuildId;
  if (model.isDraft || shown === null || current === null || shown === current) {
    return null;
  }
  const load = async () => {
    if (await confirmReplaceEdits(model)) {
      await model.spec.load(current).catch(() => undefined);
    }
  };
  return (
    <div className="jp-CondaStore-notice jp-CondaStore-specBanner" role="status">
      Showing build {shown}&apos;s specification{model.specDirty ? ' (edited)' : ''}; build{' '}
      {current} is in use.{' '}
      <button className="jp-CondaStore-linkButton" onClick={() => void load()}>
        Load the build in use
      </button>
    </div>
  );
}

/**
 * Where focus goes after "Save and build" (the button is hidden with its tab): the view's "Open
 * notebook", usable once built. `view` is the whole view's node, which outlives this tab's.
 */
function focusAfterSubmit(view: Element | null | undefined): void {
  // The header re-renders first (a new environment gets its "Use it" row).
  requestAnimationFrame(() => {
    const target =
      view?.querySelector<HTMLElement>('.jp-CondaStore-openNotebook') ??
      view?.querySelector<HTMLElement>('[role="tab"][aria-selected="true"]');
    target?.focus();
  });
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
  const root = useRef<HTMLDivElement>(null);

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
  const solve = useSolveCheck(model.api, request);
  const issues = useMemo(() => {
    // A solve's answer has the typing problems too, and the solver's.
    const found = specIssues(solve.result ?? check.result);
    const name = check.result?.name;
    if (check.result?.valid && !lockfile && name && name !== model.name) {
      found.push({
        severity: 'warning',
        message: `name is '${name}' but this is environment '${model.name}': it will be built as '${model.name}'`
      });
    }
    return found;
  }, [check.result, solve.result, lockfile, model.name]);
  const invalid = !!check.result && !check.result.valid && !check.pending;
  // Marks in the editor only for the text they were found in.
  const marked = useMemo(
    () => (solve.result || !check.pending ? issues : []),
    [issues, check.pending, solve.result]
  );
  // The form marks the package each problem is about.
  const formProblems = useMemo(() => {
    const found = new Map<string, string>();
    for (const issue of marked) {
      const name = issue.line && packageNameAt(text, issue.line, issue.column ?? 1);
      if (name && issue.path?.[0] === 'dependencies' && !found.has(name)) {
        found.set(name, issue.message);
      }
    }
    return found;
  }, [marked, text]);

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

  const goTo = (issue: { line?: number; column?: number }) => {
    if (mode !== 'yaml') {
      setMode('yaml');
    }
    const target = editor.current;
    if (target && issue.line !== undefined) {
      // The editor's positions are 0-based, the server's 1-based.
      target.setCursorPosition({
        line: issue.line - 1,
        column: Math.max(0, (issue.column ?? 1) - 1)
      });
      target.focus();
    }
  };

  // A line asked for from elsewhere (a failed build's problem): shown once its text is in.
  useEffect(() => {
    const ready = !model.specLoading && model.tab === 'specification' && !!editor.current;
    if (model.spec.lineRequest && ready) {
      const request = model.spec.takeLineRequest();
      requestAnimationFrame(() => goTo(request!));
    }
  });

  const suggest = (issue: ISpecIssue, name: string) => {
    const fixed = replacePackageName(text, issue.line!, issue.column ?? 1, name);
    if (fixed !== null) {
      model.setSpecText(fixed);
    }
  };

  const submit = async () => {
    const view = root.current?.closest('.jp-CondaStore-view');
    setSubmitting(true);
    setSubmitError(null);
    try {
      await model.submit();
      focusAfterSubmit(view);
    } catch (error) {
      setSubmitError(error);
    } finally {
      setSubmitting(false);
    }
  };

  const formUnavailable = parsed.form ? '' : parsed.reason;
  const blockedBy = !text.trim()
    ? 'The specification is empty.'
    : submitting
      ? 'Submitting…'
      : check.pending
        ? 'Checking the specification…'
        : invalid
          ? 'Fix the errors above first.'
          : '';
  const blocked = !!blockedBy;
  const baseBuild = model.specBaseBuildId;
  const reasonId = `${model.namespace}-${model.name}-build-reason`.replace(/[^A-Za-z0-9_-]/g, '_');

  return (
    <div className="jp-CondaStore-spec" ref={root}>
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
              className="jp-CondaStore-select jp-CondaStore-loadBuild"
              aria-label="Load the specification of a build"
              value=""
              onChange={e => {
                const id = Number(e.target.value);
                if (id) {
                  void confirmReplaceEdits(model).then(ok =>
                    ok ? model.loadSpecFromBuild(id).catch(() => undefined) : undefined
                  );
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
      <OtherBuildBanner model={model} />
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
            issues={marked}
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
          problems={formProblems}
        />
      )}
      <IssueList
        issues={issues}
        onGoTo={goTo}
        onSuggest={suggest}
        pending={check.pending && !solve.result}
      />
      {solve.result?.solved && solve.result.packages && (
        <WouldInstall packages={solve.result.packages} />
      )}
      {solve.result && !solve.result.solved && solve.result.valid && (
        <p className="jp-CondaStore-muted" role="status">
          The check could not solve it; the server says no more.
        </p>
      )}
      <ErrorMessage error={solve.error} doing="check the specification" />
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
          className="jp-Button jp-mod-styled"
          onClick={() => void solve.run()}
          disabled={!text.trim() || solve.running || invalid || lockfile}
          title={
            lockfile
              ? 'A conda-lock file is installed as locked: there is nothing to solve'
              : 'Solve it without building: its problems are marked, and what it would install is listed'
          }
        >
          {solve.running ? 'Checking…' : 'Check'}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-CondaStore-saveAndBuild"
          onClick={() => void submit()}
          disabled={blocked}
          aria-describedby={blocked ? reasonId : undefined}
          title={
            blockedBy ||
            'Save this specification and build it; the environment switches to it when the build completes'
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
        {blocked && !submitting && (
          <span className="jp-CondaStore-muted jp-CondaStore-blockedReason" id={reasonId}>
            {blockedBy}
          </span>
        )}
      </div>
    </div>
  );
}
