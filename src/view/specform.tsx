/** The form view of a specification: description, channels, packages, pip and variables. */
import React, { useEffect, useRef, useState } from 'react';

import { ListField, fieldColumn, textColumn } from '../listfield';
import { IDependency, ISpecForm, IVariable } from '../spec';
import { ICondaStoreAPI } from '../tokens';

let nextId = 0;
function useUid(prefix: string): string {
  const ref = useRef<string>();
  if (!ref.current) {
    ref.current = `${prefix}-${++nextId}`;
  }
  return ref.current;
}

/** Package names for completion, asked for as a name is typed. */
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

function DefaultChannels(props: { channels: string[] }): JSX.Element {
  const { channels } = props;
  return (
    <p className="jp-CondaStore-muted">
      None listed: the server's default channel{channels.length === 1 ? '' : 's'}{' '}
      {channels.length ? <code>{channels.join(', ')}</code> : ''}{' '}
      {channels.length === 1 ? 'is' : 'are'} used.
    </p>
  );
}

/** The lists of the form, and the type of their rows. */
type ListKey = 'channels' | 'dependencies' | 'pip' | 'variables';
type Row<K extends ListKey> = ISpecForm[K][number];

/** What names a row: a channel or requirement itself, else its name. */
function nameOf(row: string | { name: string }): string {
  return typeof row === 'string' ? row : row.name;
}

const VARIABLE_COLUMNS = [
  fieldColumn<IVariable>('name', { label: n => `Variable ${n} name`, placeholder: 'NAME' }),
  fieldColumn<IVariable>('value', { label: n => `Variable ${n} value`, placeholder: 'value' })
];

interface IFormProps {
  form: ISpecForm;
  onChange: (form: ISpecForm) => void;
  api: ICondaStoreAPI;
  defaultChannels: string[];
  /** Problems by the package name they are about (marked on that package's row). */
  problems?: ReadonlyMap<string, string>;
}

export function SpecForm(props: IFormProps): JSX.Element {
  const { form, onChange, api } = props;
  const listId = useUid('jp-CondaStore-packageNames');
  const [names, complete] = useCompletion(api);
  const update = (patch: Partial<ISpecForm>) => onChange({ ...form, ...patch });
  /**
   * What a list of the form takes from its key in the form and the `noun` of its rows: its
   * items, its row kind and the labels of its add and remove buttons.
   */
  const rows = <K extends ListKey>(key: K, rowKind: string, noun: string) => ({
    rowKind,
    items: form[key] as Array<Row<K>>,
    onChange: (items: Array<Row<K>>) => update({ [key]: items }),
    addLabel: `Add ${noun}`,
    removeLabel: (item: Row<K>, n: number) => `Remove ${noun} ${nameOf(item) || n}`
  });

  return (
    <div className="jp-CondaStore-form">
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

      <ListField<string>
        legend="Channels"
        {...rows('channels', 'channel', 'channel')}
        columns={[textColumn(n => `Channel ${n}`, 'conda-forge or a URL')]}
        newItem={() => ''}
        empty={<DefaultChannels channels={props.defaultChannels} />}
      />

      <ListField<IDependency>
        legend="Conda packages"
        {...rows('dependencies', 'package', 'package')}
        columns={[
          fieldColumn<IDependency>('name', {
            label: n => `Package ${n} name`,
            heading: 'Package',
            placeholder: 'name, e.g. numpy',
            inputProps: () => ({
              list: listId,
              autoComplete: 'off',
              onFocus: e => complete(e.target.value),
              onChange: e => complete(e.target.value)
            })
          }),
          fieldColumn<IDependency>('constraint', {
            label: n => `Package ${n} version`,
            heading: 'Version constraint',
            placeholder: 'any version, e.g. >=1.2,<2'
          })
        ]}
        newItem={() => ({ name: '', constraint: '' })}
        problemOf={item => props.problems?.get(item.name)}
      />

      <ListField<string>
        legend="Pip packages"
        {...rows('pip', 'pip', 'pip package')}
        columns={[textColumn(n => `Pip package ${n}`, 'requirement, e.g. requests>=2.31')]}
        newItem={() => ''}
        problemOf={item => props.problems?.get(/^[A-Za-z0-9_.-]*/.exec(item.trim())![0])}
      />

      <ListField<IVariable>
        legend="Environment variables"
        {...rows('variables', 'variable', 'variable')}
        columns={VARIABLE_COLUMNS}
        newItem={() => ({ name: '', value: '' })}
      />
    </div>
  );
}
