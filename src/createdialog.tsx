/** The New environment dialog: names and the file checked by the server as they are given. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import React, { useEffect, useMemo, useState } from 'react';
import { parse } from 'yaml';

import { IValidateRequest } from './api';
import { ErrorMessage, NamespaceField, TextField } from './components';
import { ValidatedBody, validatorOr } from './dialogbody';
import { TEMPLATES, TemplateId, isLockfileContent, readSpec, templateText, withName } from './spec';
import { ISpecValidator, problemMessage, useValidation } from './validation';

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
  /** What checks the names and the file (the API client; by default one of its own). */
  validator?: ISpecValidator;
}

type Field = 'name' | 'namespace' | 'file';

interface ICreateCheck {
  problems: Partial<Record<Field, string>>;
  isLockfile: boolean;
  /** The server has not answered for the current names and file yet. */
  pending: boolean;
}

/** What the server is asked about the dialog's names and file (the name goes into the file). */
function createRequest(state: ICreateState, isLockfile: boolean): IValidateRequest | null {
  const name = state.name.trim();
  const namespace = state.namespace.trim();
  const request: IValidateRequest = {};
  if (namespace) {
    request.namespace = namespace;
  }
  if (name) {
    request.environment_name = name;
  }
  if (state.source === 'file' && state.fileText) {
    request.specification = isLockfile ? state.fileText : withName(state.fileText, name);
    request.is_lockfile = isLockfile;
  }
  return Object.keys(request).length ? request : null;
}

/** What is wrong with the dialog's state, as the server and the list of environments say. */
function useCreateCheck(
  state: ICreateState,
  options: ICreateDialogOptions,
  validator: ISpecValidator
): ICreateCheck {
  const isLockfile = useMemo(
    () => state.source === 'file' && readSpec(state.fileText).kind === 'lockfile',
    [state.source, state.fileText]
  );
  const request = useMemo(
    () => createRequest(state, isLockfile),
    [state.name, state.namespace, state.source, state.fileText, isLockfile]
  );
  const check = useValidation(validator, request);
  const refused = (field: string) => {
    const problem = check.result?.problems.find(
      // The file's own name is replaced by the Name field's: that one is checked there.
      p => p.field === field && !(field === 'specification' && p.path[0] === 'name')
    );
    return problem && request ? problem : undefined;
  };
  const problems: Partial<Record<Field, string>> = {};
  const name = state.name.trim();
  const namespace = state.namespace.trim();
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
  } else if (namespace && options.exists(namespace, name)) {
    problems.name = `${namespace}/${name} already exists: open it from the panel to change it`;
  }
  if (state.source === 'file') {
    const fileProblem = refused('specification');
    if (!state.fileText) {
      problems.file = 'Choose a YAML or conda-lock file';
    } else if (fileProblem) {
      const line = fileProblem.line ? `line ${fileProblem.line}: ` : '';
      problems.file = `${state.fileName}: ${line}${problemMessage(fileProblem)}`;
    }
  }
  return { problems, isLockfile, pending: check.pending };
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
    if (!this._valid) {
      return null;
    }
    const isLockfile = this._isLockfile;
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
        onChange={(state, valid, isLockfile, pending) => {
          this._state = state;
          this._valid = valid;
          this._isLockfile = isLockfile;
          this._pending = pending;
          this.setValid(valid);
          if (this._submitWhenChecked && !pending) {
            this._submitWhenChecked = false;
            if (valid) {
              this._accept();
            }
          }
        }}
      />
    );
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // Before the dialog's own handler, which drops an Enter while the check is pending.
    document.addEventListener('keydown', this._onKeyDown, true);
  }

  protected onBeforeDetach(msg: Message): void {
    document.removeEventListener('keydown', this._onKeyDown, true);
    super.onBeforeDetach(msg);
  }

  /** Enter typed right after the name (its check not in yet) creates once the check is in. */
  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement | null;
    if (
      event.key === 'Enter' &&
      this._pending &&
      target instanceof HTMLInputElement &&
      this.node.contains(target)
    ) {
      event.preventDefault();
      event.stopPropagation();
      this._submitWhenChecked = true;
    }
  };

  private _accept(): void {
    const dialog = this.node.closest('.jp-Dialog-content');
    dialog?.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept')?.click();
  }

  private _valid = false;
  private _isLockfile = false;
  private _pending = false;
  private _submitWhenChecked = false;
}

function CreateForm(props: {
  initial: ICreateState;
  options: ICreateDialogOptions;
  onChange: (state: ICreateState, valid: boolean, isLockfile: boolean, pending: boolean) => void;
}): JSX.Element {
  const [state, setState] = useState<ICreateState>(props.initial);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const validator = validatorOr(props.options.validator);
  const { problems, isLockfile, pending } = useCreateCheck(state, props.options, validator);
  const valid = Object.keys(problems).length === 0 && !pending;
  useEffect(
    () => props.onChange(state, valid, isLockfile, pending),
    [state, valid, isLockfile, pending]
  );
  const update = (patch: Partial<ICreateState>) => setState({ ...state, ...patch });
  const show = (field: Field) => (touched[field] || !!props.options.error) && problems[field];

  const readFile = async (file: File | undefined) => {
    if (!file) {
      return;
    }
    const text = await file.text();
    let suggested = state.name;
    try {
      const content = parse(text);
      if (
        !state.name.trim() &&
        content &&
        typeof content === 'object' &&
        !isLockfileContent(content)
      ) {
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
      <TextField
        label="Name"
        helpId="jp-CondaStore-createNameHelp"
        problem={show('name')}
        note={show('name') || 'Letters, digits, ".", "_" and "-".'}
        input={{
          name: 'environment-name',
          value: state.name,
          placeholder: 'e.g. analysis',
          onChange: e => update({ name: e.target.value }),
          onBlur: () => setTouched({ ...touched, name: true }),
          autoFocus: true
        }}
      />
      <NamespaceField
        id="jp-CondaStore-createNamespace"
        namespaces={props.options.namespaces}
        value={state.namespace}
        onChange={value => update({ namespace: value })}
        onBlur={() => setTouched({ ...touched, namespace: true })}
        problem={show('namespace')}
        note="Where the environment lives."
      />
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
                {state.fileName}:{' '}
                {isLockfile ? 'a conda-lock file' : 'an environment specification'}
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
      <ErrorMessage error={props.options.error} />
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
