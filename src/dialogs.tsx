/**
 * The dialogs: a new namespace here, a new environment in createdialog.tsx, copy, rename and
 * import in transferdialogs.tsx.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useMemo, useState } from 'react';

import { ErrorMessage, TextField, errorText } from './components';
import { ValidatedBody, validatorOr } from './dialogbody';
import { ISpecValidator, problemMessage, useValidation } from './validation';

export * from './createdialog';
export * from './transferdialogs';

// -------------------------------------------------------------------------------------------
// New namespace

class NamespaceBody extends ValidatedBody<string> {
  constructor(
    private _value: string,
    private readonly _existing: ReadonlyArray<string>,
    private readonly _error: string | null,
    private readonly _validator: ISpecValidator
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
        validator={this._validator}
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
  validator: ISpecValidator;
  onChange: (value: string, valid: boolean) => void;
}): JSX.Element {
  const [value, setValue] = useState(props.initial);
  const trimmed = value.trim();
  const taken = props.existing.includes(trimmed);
  // The server checks the name (its rule); while it does, the last answer stays shown.
  const request = useMemo(
    () => (trimmed && !taken ? { namespace: trimmed } : null),
    [trimmed, taken]
  );
  const check = useValidation(props.validator, request);
  const refused = request && check.result?.problems.find(p => p.field === 'namespace');
  const problem = taken
    ? `Namespace ${trimmed} already exists`
    : refused
      ? problemMessage(refused)
      : null;
  const valid = !!trimmed && !problem && !check.pending;
  useEffect(() => props.onChange(value, valid), [value, valid]);
  return (
    <div className="jp-CondaStore-dialogForm">
      <TextField
        label="Name"
        helpId="jp-CondaStore-namespaceHelp"
        problem={problem}
        alert
        note={
          problem ??
          'Letters, digits, ".", "_" and "-". A namespace groups environments and who may use them.'
        }
        input={{
          value,
          onChange: e => setValue(e.target.value),
          placeholder: 'e.g. team-analytics',
          autoFocus: true
        }}
      />
      <ErrorMessage error={props.error} />
    </div>
  );
}

/** Ask for a namespace name and create it; resolves with the name, or null if canceled. */
export async function newNamespaceDialog(
  create: (name: string) => Promise<void>,
  existing: ReadonlyArray<string>,
  validator?: ISpecValidator
): Promise<string | null> {
  let value = '';
  let error: string | null = null;
  for (;;) {
    const body = new NamespaceBody(value, existing, error, validatorOr(validator));
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
    try {
      await create(value);
      return value;
    } catch (reason) {
      error = errorText(reason, `create namespace ${value}`);
    }
  }
}
