/** The Copy, Rename and Import dialogs: target names checked by the server as they are typed. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useMemo, useState } from 'react';

import { IValidateRequest } from './api';
import { ErrorMessage, NamespaceField, TextField, errorText } from './components';
import { ValidatedBody, validatorOr } from './dialogbody';
import { ICheck, ISpecValidator, problemMessage, useValidation } from './validation';

// -------------------------------------------------------------------------------------------
// Copy and rename

export type MoveVerb = 'copy' | 'rename';

/** Where the environment goes. */
export interface IMoveState {
  namespace: string;
  name: string;
}

export interface IMoveDialogOptions<T> {
  verb: MoveVerb;
  /** The environment copied or renamed. */
  namespace: string;
  name: string;
  namespaces: ReadonlyArray<string>;
  /** Does `namespace/name` exist already? */
  exists: (namespace: string, name: string) => boolean;
  /** Copy or rename; an error shows in the dialog, opened again. */
  action: (target: IMoveState) => Promise<T>;
  validator?: ISpecValidator;
}

/** A copy's name that is not taken yet: `<name>-copy`, else `<name>-copy-2`, `-3`... */
export function copyName(
  namespace: string,
  name: string,
  exists: (namespace: string, name: string) => boolean
): string {
  let candidate = `${name}-copy`;
  for (let n = 2; exists(namespace, candidate); n++) {
    candidate = `${name}-copy-${n}`;
  }
  return candidate;
}

/** What the server is asked about the target's names (nothing when both are empty). */
export function moveRequest(state: IMoveState): IValidateRequest | null {
  const request: IValidateRequest = {};
  if (state.namespace.trim()) {
    request.namespace = state.namespace.trim();
  }
  if (state.name.trim()) {
    request.environment_name = state.name.trim();
  }
  return Object.keys(request).length ? request : null;
}

/**
 * What is wrong with a copy's or a rename's target: an empty field, a name the server refuses,
 * a target that exists, or (a rename) the same names as now.
 */
export function moveProblems(
  state: IMoveState,
  options: Pick<IMoveDialogOptions<unknown>, 'verb' | 'namespace' | 'name' | 'exists'>,
  check: Pick<ICheck, 'result'>
): Partial<Record<keyof IMoveState, string>> {
  const problems: Partial<Record<keyof IMoveState, string>> = {};
  const namespace = state.namespace.trim();
  const name = state.name.trim();
  const refused = (field: string) => check.result?.problems.find(p => p.field === field);
  const namespaceProblem = refused('namespace');
  if (!namespace) {
    problems.namespace = 'Choose a namespace';
  } else if (namespaceProblem) {
    problems.namespace = problemMessage(namespaceProblem);
  }
  const nameProblem = refused('environment_name');
  if (!name) {
    problems.name = 'Give the environment a name';
  } else if (nameProblem) {
    problems.name = problemMessage(nameProblem);
  } else if (namespace === options.namespace && name === options.name) {
    problems.name =
      options.verb === 'rename'
        ? 'Give another name or namespace'
        : 'A copy needs another name or namespace';
  } else if (namespace && options.exists(namespace, name)) {
    problems.name = `${namespace}/${name} already exists`;
  }
  return problems;
}

/** The props every form of these dialogs takes. */
interface IFormProps<S, O> {
  initial: S;
  options: O;
  error: string | null;
  onChange: (state: S, valid: boolean) => void;
}

/**
 * A dialog's body around a form (`Form`): it keeps what was typed (`state`, to reopen the
 * dialog with it after the server refused) and whether it is valid.
 */
class FormBody<S, O> extends ValidatedBody<S | null> {
  constructor(
    private readonly _form: (props: IFormProps<S, O>) => JSX.Element,
    private _state: S,
    private readonly _options: O,
    private readonly _error: string | null,
    className: string,
    private readonly _value: (state: S) => S = state => state
  ) {
    super();
    this.addClass('jp-CondaStore-dialogBody');
    this.addClass(className);
  }

  get state(): S {
    return this._state;
  }

  getValue(): S | null {
    return this._valid ? this._value(this._state) : null;
  }

  render(): JSX.Element {
    const Form = this._form;
    return (
      <Form
        initial={this._state}
        options={this._options}
        error={this._error}
        onChange={(state, valid) => {
          this._state = state;
          this._valid = valid;
          this.setValid(valid);
        }}
      />
    );
  }

  private _valid = false;
}

/** A move's names, without the spaces around them. */
function trimmed(state: IMoveState): IMoveState {
  return { namespace: state.namespace.trim(), name: state.name.trim() };
}

export function MoveForm(props: IFormProps<IMoveState, IMoveDialogOptions<unknown>>): JSX.Element {
  const { options } = props;
  const [state, setState] = useState<IMoveState>(props.initial);
  const request = useMemo(() => moveRequest(state), [state.namespace, state.name]);
  const check = useValidation(validatorOr(options.validator), request);
  const problems = moveProblems(state, options, check);
  const valid = Object.keys(problems).length === 0 && !check.pending;
  useEffect(() => {
    props.onChange(state, valid);
  }, [state, valid]);
  return (
    <div className="jp-CondaStore-dialogForm">
      <TextField
        label="Name"
        helpId="jp-CondaStore-moveNameHelp"
        problem={problems.name}
        alert
        note={problems.name ?? 'Letters, digits, ".", "_" and "-".'}
        input={{
          name: 'environment-name',
          value: state.name,
          onChange: e => setState({ ...state, name: e.target.value }),
          autoFocus: true
        }}
      />
      <NamespaceField
        id="jp-CondaStore-moveNamespace"
        namespaces={options.namespaces}
        value={state.namespace}
        onChange={value => setState({ ...state, namespace: value })}
        problem={problems.namespace}
        alert
        note={
          options.verb === 'rename'
            ? 'Another namespace moves it there: a copy, then this one is deleted.'
            : 'Where the copy lives.'
        }
      />
      <ErrorMessage error={props.error} />
    </div>
  );
}

/**
 * Ask where to copy or rename an environment to, then do it; resolves with what the action
 * resolved with (the new environment), or null when canceled.
 */
export async function moveEnvironmentDialog<T>(options: IMoveDialogOptions<T>): Promise<T | null> {
  const copying = options.verb === 'copy';
  let state: IMoveState = {
    namespace: options.namespace,
    name: copying ? copyName(options.namespace, options.name, options.exists) : options.name
  };
  let error: string | null = null;
  for (;;) {
    const body = new FormBody(MoveForm, state, options, error, 'jp-CondaStore-moveDialog', trimmed);
    const result = await showDialog({
      title: `${copying ? 'Copy' : 'Rename'} ${options.namespace}/${options.name}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: copying ? 'Copy' : 'Rename' })],
      focusNodeSelector: 'input[name="environment-name"]'
    });
    if (!result.button.accept) {
      return null;
    }
    state = body.state;
    if (!result.value) {
      error = 'Fix the fields marked above first.';
      continue;
    }
    try {
      return await options.action(result.value);
    } catch (reason) {
      error = errorText(
        reason,
        `${options.verb} to ${result.value.namespace}/${result.value.name}`
      );
    }
  }
}

// -------------------------------------------------------------------------------------------
// Import

/** The archive to import and where to. */
export interface IImportState {
  file: File | null;
  /** The namespace to import into; empty: the archive's own. */
  namespace: string;
}

export interface IImportDialogOptions<T> {
  namespaces: ReadonlyArray<string>;
  /** Import; an error shows in the dialog, opened again with the same file. */
  action: (file: File, namespace: string | undefined) => Promise<T>;
  validator?: ISpecValidator;
}

/** What is wrong with an import: no file chosen, or a namespace the server refuses. */
export function importProblems(
  state: IImportState,
  check: Pick<ICheck, 'result'>
): Partial<Record<'file' | 'namespace', string>> {
  const problems: Partial<Record<'file' | 'namespace', string>> = {};
  if (!state.file) {
    problems.file = 'Choose an archive exported from conda-store';
  }
  const refused = check.result?.problems.find(p => p.field === 'namespace');
  if (state.namespace.trim() && refused) {
    problems.namespace = problemMessage(refused);
  }
  return problems;
}

export function ImportForm(
  props: IFormProps<IImportState, IImportDialogOptions<unknown>>
): JSX.Element {
  const { options } = props;
  const [state, setState] = useState<IImportState>(props.initial);
  const namespace = state.namespace.trim();
  const request = useMemo(() => (namespace ? { namespace } : null), [namespace]);
  const check = useValidation(validatorOr(options.validator), request);
  const problems = importProblems(state, check);
  const valid = Object.keys(problems).length === 0 && !check.pending;
  useEffect(() => {
    props.onChange(state, valid);
  }, [state, valid]);
  return (
    <div className="jp-CondaStore-dialogForm">
      <div className="jp-CondaStore-fileChoice">
        <label className="jp-CondaStore-field">
          <span>Archive</span>
          <input
            type="file"
            accept=".gz,.tgz,application/gzip"
            aria-label="Archive"
            onChange={e => setState({ ...state, file: e.target.files?.[0] ?? null })}
          />
        </label>
        {/* A file input cannot be filled again: when the dialog reopens, say which it holds. */}
        <p className="jp-CondaStore-muted" role="status">
          {state.file
            ? `${state.file.name} (${Math.max(1, Math.round(state.file.size / 1024))} KiB)`
            : 'A .conda-store.tar.gz file, from Export.'}
        </p>
      </div>
      <NamespaceField
        id="jp-CondaStore-importNamespace"
        namespaces={options.namespaces}
        value={state.namespace}
        onChange={value => setState({ ...state, namespace: value })}
        problem={problems.namespace}
        alert
        note="Every environment of the archive goes there."
        emptyNote="Leave empty to import into the namespaces the archive names."
        placeholder="the archive’s own"
      />
      <ErrorMessage error={props.error} />
    </div>
  );
}

/** Ask for an archive and a namespace, then import; resolves with the action's result. */
export async function importDialog<T>(options: IImportDialogOptions<T>): Promise<T | null> {
  let state: IImportState = { file: null, namespace: '' };
  let error: string | null = null;
  for (;;) {
    const body = new FormBody(ImportForm, state, options, error, 'jp-CondaStore-importDialog');
    const result = await showDialog({
      title: 'Import environments',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Import' })],
      focusNodeSelector: 'input[type="file"]'
    });
    if (!result.button.accept) {
      return null;
    }
    state = body.state;
    if (!result.value?.file) {
      error = 'Choose an archive first.';
      continue;
    }
    try {
      return await options.action(result.value.file, result.value.namespace.trim() || undefined);
    } catch (reason) {
      error = errorText(reason, `import ${result.value.file.name}`);
    }
  }
}
