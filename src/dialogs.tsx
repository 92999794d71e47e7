import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { errorText } from './components';
import {
  TEMPLATES,
  TemplateId,
  checkName,
  isLockfileContent,
  parseSpec,
  templateText,
  withName
} from './spec';
import { parse } from 'yaml';

/** A dialog body with inline validation that disables the accept button while invalid. */
abstract class ValidatedBody<T> extends ReactWidget implements Dialog.IBodyWidget<T> {
  abstract getValue(): T;

  /** Enable or disable the dialog's accept button. */
  protected setValid(valid: boolean): void {
    const dialog = this.node.closest('.jp-Dialog-content');
    const button = dialog?.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept');
    if (button) {
      button.disabled = !valid;
    }
  }
}

// -------------------------------------------------------------------------------------------
// New namespace

class NamespaceBody extends ValidatedBody<string> {
  constructor(
    private _value: string,
    private readonly _existing: ReadonlyArray<string>,
    private readonly _error: string | null
  ) {
    super();
    this.addClass('jp-CondaStore-dialogBody');
  }

  getValue(): string {
    return this._value.trim();
  }

  render(): JSX.Element {
    return (
      <NamespaceForm
        initial={this._value}
        existing={this._existing}
        error={this._error}
        onChange={(value, valid) => {
          this._value = value;
          this.setValid(valid);
        }}
      />
    );
  }
}

function NamespaceForm(props: {
  initial: string;
  existing: ReadonlyArray<string>;
  error: string | null;
  onChange: (value: string, valid: boolean) => void;
}): JSX.Element {
  const [value, setValue] = useState(props.initial);
  const trimmed = value.trim();
  const problem = !trimmed
    ? null
    : checkName('namespace', trimmed) ??
      (props.existing.includes(trimmed) ? `Namespace ${trimmed} already exists` : null);
  useEffect(() => props.onChange(value, !!trimmed && !problem), [value]);
  return (
    <div className="jp-CondaStore-dialogForm">
      <label className="jp-CondaStore-field">
        <span>Name</span>
        <input
          className="jp-CondaStore-input"
          value={value}
          onChange={e => setValue(e.target.value)}
          aria-invalid={!!problem}
          aria-describedby="jp-CondaStore-namespaceHelp"
          placeholder="e.g. team-analytics"
          autoFocus
        />
      </label>
      <p id="jp-CondaStore-namespaceHelp" className={problem ? 'jp-CondaStore-fieldError' : 'jp-CondaStore-muted'} role={problem ? 'alert' : undefined}>
        {problem ?? 'Letters, digits, ".", "_" and "-". A namespace groups environments and who may use them.'}
      </p>
      {props.error && (
        <div className="jp-CondaStore-error" role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}

/** Ask for a namespace name and create it; resolves with the name, or null if canceled. */
export async function newNamespaceDialog(
  create: (name: string) => Promise<void>,
  existing: ReadonlyArray<string>
): Promise<string | null> {
  let value = '';
  let error: string | null = null;
  for (;;) {
    const body = new NamespaceBody(value, existing, error);
    const result = await showDialog({
      title: 'New namespace',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
      focusNodeSelector: 'input'
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    value = result.value;
    const problem = checkName('namespace', value);
    if (problem) {
      error = problem;
      continue;
    }
    try {
      await create(value);
      return value;
    } catch (reason) {
      error = errorText(reason, `create namespace ${value}`);
    }
  }
}

// -------------------------------------------------------------------------------------------
// Create environment

export type Source = TemplateId | 'file';

export interface ICreateRequest {
  namespace: string;
  name: string;
  /** The specification to start from. */
  text: string;
  isLockfile: boolean;
  /** Submit right away rather than review the specification first. */
  buildNow: boolean;
}

interface ICreateState {
  namespace: string;
  name: string;
  source: Source;
  fileName: string;
  fileText: string;
  buildNow: boolean;
}

export interface ICreateDialogOptions {
  namespaces: ReadonlyArray<string>;
  defaultNamespace: string;
  /** Does `namespace/name` exist already? */
  exists: (namespace: string, name: string) => boolean;
  error?: string | null;
}

/** What is wrong with the dialog's state, or null (and whether the file is a lock file). */
function validate(
  state: ICreateState,
  options: ICreateDialogOptions
): { problems: Partial<Record<'name' | 'namespace' | 'file', string>>; isLockfile: boolean } {
  const problems: Partial<Record<'name' | 'namespace' | 'file', string>> = {};
  let isLockfile = false;
  const name = state.name.trim();
  const namespace = state.namespace.trim();
  if (namespace) {
    const problem = checkName('namespace', namespace);
    if (problem) {
      problems.namespace = problem;
    }
  } else {
    problems.namespace = 'Choose a namespace';
  }
  if (name) {
    const problem = checkName('environment', name);
    if (problem) {
      problems.name = problem;
    } else if (namespace && options.exists(namespace, name)) {
      problems.name = `${namespace}/${name} already exists: open it from the panel to change it`;
    }
  } else {
    problems.name = 'Give the environment a name';
  }
  if (state.source === 'file') {
    if (!state.fileText) {
      problems.file = 'Choose a YAML or conda-lock file';
    } else {
      const parsed = parseSpec(state.fileText);
      isLockfile = parsed.kind === 'lockfile';
      const first = parsed.issues.find(i => i.severity === 'error');
      if (first && !/name/.test(first.message)) {
        problems.file = `${state.fileName}: ${first.line ? `line ${first.line}: ` : ''}${first.message}`;
      }
    }
  }
  return { problems, isLockfile };
}

class CreateBody extends ValidatedBody<ICreateRequest | null> {
  constructor(
    private _state: ICreateState,
    private readonly _options: ICreateDialogOptions
  ) {
    super();
    this.addClass('jp-CondaStore-dialogBody');
    this.addClass('jp-CondaStore-createDialog');
  }

  get state(): ICreateState {
    return this._state;
  }

  getValue(): ICreateRequest | null {
    const { problems, isLockfile } = validate(this._state, this._options);
    if (Object.keys(problems).length) {
      return null;
    }
    const name = this._state.name.trim();
    const text =
      this._state.source === 'file'
        ? isLockfile
          ? this._state.fileText
          : withName(this._state.fileText, name)
        : templateText(this._state.source, name);
    return {
      namespace: this._state.namespace.trim(),
      name,
      text,
      isLockfile,
      buildNow: this._state.buildNow
    };
  }

  render(): JSX.Element {
    return (
      <CreateForm
        initial={this._state}
        options={this._options}
        onChange={(state, valid) => {
          this._state = state;
          this.setValid(valid);
        }}
      />
    );
  }
}

function CreateForm(props: {
  initial: ICreateState;
  options: ICreateDialogOptions;
  onChange: (state: ICreateState, valid: boolean) => void;
}): JSX.Element {
  const [state, setState] = useState<ICreateState>(props.initial);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const { problems, isLockfile } = validate(state, props.options);
  const valid = Object.keys(problems).length === 0;
  useEffect(() => props.onChange(state, valid), [state, valid]);
  const update = (patch: Partial<ICreateState>) => setState({ ...state, ...patch });
  const show = (field: 'name' | 'namespace' | 'file') =>
    (touched[field] || !!props.options.error) && problems[field];

  const readFile = async (file: File | undefined) => {
    if (!file) {
      return;
    }
    const text = await file.text();
    let suggested = state.name;
    try {
      const content = parse(text);
      if (!state.name.trim() && content && typeof content === 'object' && !isLockfileContent(content)) {
        suggested = typeof content.name === 'string' ? content.name : '';
      }
      if (!suggested && isLockfileContent(content)) {
        suggested = file.name.replace(/(\.conda-lock)?\.ya?ml$|-conda-lock\.ya?ml$|\.txt$/i, '');
      }
    } catch {
      // shown by the validation
    }
    setTouched({ ...touched, file: true });
    update({ source: 'file', fileName: file.name, fileText: text, name: suggested });
  };

  return (
    <div className="jp-CondaStore-dialogForm">
      <label className="jp-CondaStore-field">
        <span>Name</span>
        <input
          className="jp-CondaStore-input"
          name="environment-name"
          value={state.name}
          placeholder="e.g. analysis"
          aria-invalid={!!show('name')}
          aria-describedby="jp-CondaStore-createNameHelp"
          onChange={e => update({ name: e.target.value })}
          onBlur={() => setTouched({ ...touched, name: true })}
          autoFocus
        />
      </label>
      <p
        id="jp-CondaStore-createNameHelp"
        className={show('name') ? 'jp-CondaStore-fieldError' : 'jp-CondaStore-muted'}
      >
        {show('name') || 'Letters, digits, ".", "_" and "-".'}
      </p>
      <label className="jp-CondaStore-field">
        <span>Namespace</span>
        <input
          className="jp-CondaStore-input"
          name="namespace"
          list="jp-CondaStore-namespaceOptions"
          value={state.namespace}
          aria-invalid={!!show('namespace')}
          aria-describedby="jp-CondaStore-createNamespaceHelp"
          onChange={e => update({ namespace: e.target.value })}
          onBlur={() => setTouched({ ...touched, namespace: true })}
        />
        <datalist id="jp-CondaStore-namespaceOptions">
          {props.options.namespaces.map(ns => (
            <option key={ns} value={ns} />
          ))}
        </datalist>
      </label>
      <p
        id="jp-CondaStore-createNamespaceHelp"
        className={show('namespace') ? 'jp-CondaStore-fieldError' : 'jp-CondaStore-muted'}
      >
        {show('namespace') ||
          (props.options.namespaces.includes(state.namespace.trim()) || !state.namespace.trim()
            ? 'Where the environment lives.'
            : `Namespace ${state.namespace.trim()} will be created.`)}
      </p>
      <fieldset className="jp-CondaStore-fieldset">
        <legend>Start from</legend>
        {(Object.keys(TEMPLATES) as TemplateId[]).map(id => (
          <label className="jp-CondaStore-choice" key={id}>
            <input
              type="radio"
              name="source"
              value={id}
              checked={state.source === id}
              onChange={() => update({ source: id })}
            />
            <span>
              <strong>{TEMPLATES[id].label}</strong>
              <span className="jp-CondaStore-muted"> — {TEMPLATES[id].description}</span>
            </span>
          </label>
        ))}
        <label className="jp-CondaStore-choice">
          <input
            type="radio"
            name="source"
            value="file"
            checked={state.source === 'file'}
            onChange={() => update({ source: 'file' })}
          />
          <span>
            <strong>A file</strong>
            <span className="jp-CondaStore-muted"> — an environment YAML or a conda-lock file</span>
          </span>
        </label>
        {state.source === 'file' && (
          <div className="jp-CondaStore-fileChoice">
            <input
              type="file"
              accept=".yml,.yaml,.txt,text/yaml,application/x-yaml"
              aria-label="Specification file"
              onChange={e => void readFile(e.target.files?.[0])}
            />
            {state.fileName && !problems.file && (
              <p className="jp-CondaStore-muted" role="status">
                {state.fileName}: {isLockfile ? 'a conda-lock file' : 'an environment specification'}
              </p>
            )}
            {show('file') && (
              <p className="jp-CondaStore-fieldError" role="alert">
                {problems.file}
              </p>
            )}
          </div>
        )}
      </fieldset>
      <label className="jp-CondaStore-choice">
        <input
          type="checkbox"
          checked={state.buildNow}
          onChange={e => update({ buildNow: e.target.checked })}
        />
        <span>Build right away, without reviewing the specification</span>
      </label>
      {props.options.error && (
        <div className="jp-CondaStore-error" role="alert">
          {props.options.error}
        </div>
      )}
    </div>
  );
}

/** The create environment dialog; resolves with what to create, or null when canceled. */
export async function createEnvironmentDialog(
  options: ICreateDialogOptions,
  initial: Partial<ICreateState> = {}
): Promise<ICreateRequest | null> {
  let state: ICreateState = {
    namespace: options.defaultNamespace,
    name: '',
    source: 'python',
    fileName: '',
    fileText: '',
    buildNow: false,
    ...initial
  };
  let error = options.error ?? null;
  for (;;) {
    const body = new CreateBody(state, { ...options, error });
    const result = await showDialog({
      title: 'New conda environment',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
      focusNodeSelector: 'input[name="environment-name"]'
    });
    if (!result.button.accept) {
      return null;
    }
    if (result.value) {
      return result.value;
    }
    state = body.state;
    error = 'Fix the fields marked above first.';
  }
}
