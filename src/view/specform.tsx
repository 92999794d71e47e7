/** The form view of a specification: description, channels, packages, pip and variables. */
import React, { useEffect, useRef, useState } from 'react';

import { ListField } from '../listfield';
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
  const update = (patch: Partial<ISpecForm>) => onChange({ ...form, ...patch });
  const text = (label: (n: number) => string, placeholder: string) => ({
    label,
    placeholder,
    wide: true,
    get: (item: string) => item,
    set: (_: string, value: string) => value
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
        rowKind="channel"
        items={form.channels}
        onChange={channels => update({ channels })}
        columns={[text(n => `Channel ${n}`, 'conda-forge or a URL')]}
        addLabel="Add channel"
        newItem={() => ''}
        removeLabel={(channel, n) => `Remove channel ${channel || n}`}
        empty={<DefaultChannels channels={props.defaultChannels} />}
      />

      <ListField<IDependency>
        legend="Conda packages"
        rowKind="package"
        items={form.dependencies}
        onChange={dependencies => update({ dependencies })}
        columns={[
          {
            label: n => `Package ${n} name`,
            heading: 'Package',
            placeholder: 'name, e.g. numpy',
            get: d => d.name,
            set: (d, name) => ({ ...d, name }),
            inputProps: () => ({
              list: listId,
              autoComplete: 'off',
              onFocus: e => complete(e.target.value),
              onChange: e => complete(e.target.value)
            })
          },
          {
            label: n => `Package ${n} version`,
            heading: 'Version constraint',
            placeholder: 'any version, e.g. >=1.2,<2',
            get: d => d.constraint,
            set: (d, constraint) => ({ ...d, constraint })
          }
        ]}
        addLabel="Add package"
        newItem={() => ({ name: '', constraint: '' })}
        removeLabel={(d, n) => `Remove package ${d.name || n}`}
      />

      <ListField<string>
        legend="Pip packages"
        rowKind="pip"
        items={form.pip}
        onChange={pip => update({ pip })}
        columns={[text(n => `Pip package ${n}`, 'requirement, e.g. requests>=2.31')]}
        addLabel="Add pip package"
        newItem={() => ''}
        removeLabel={(requirement, n) => `Remove pip package ${requirement || n}`}
      />

      <ListField<IVariable>
        legend="Environment variables"
        rowKind="variable"
        items={form.variables}
        onChange={variables => update({ variables })}
        columns={[
          {
            label: n => `Variable ${n} name`,
            placeholder: 'NAME',
            get: v => v.name,
            set: (v, name) => ({ ...v, name })
          },
          {
            label: n => `Variable ${n} value`,
            placeholder: 'value',
            get: v => v.value,
            set: (v, value) => ({ ...v, value })
          }
        ]}
        addLabel="Add variable"
        newItem={() => ({ name: '', value: '' })}
        removeLabel={(v, n) => `Remove variable ${v.name || n}`}
      />
    </div>
  );
}
