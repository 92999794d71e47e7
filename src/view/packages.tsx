import React, { useMemo, useState } from 'react';

import { ErrorMessage, SearchInput, TableHead, formatSize, useSignal } from '../components';
import { EnvironmentViewModel } from './model';

/** A channel URL made short: `conda-forge`, or the last part of a file:// path. */
export function channelLabel(channel: string): string {
  const trimmed = channel.replace(/\/+$/, '');
  const match = /^https?:\/\/conda\.anaconda\.org\/(.+)$/.exec(trimmed);
  if (match) {
    return match[1];
  }
  if (/^[a-z]+:\/\//.test(trimmed)) {
    return trimmed.split('/').pop() || trimmed;
  }
  return trimmed;
}

/** The packages of the selected build (the model fetches them), with a filter. */
export function PackagesView(props: { model: EnvironmentViewModel }): JSX.Element {
  const { model } = props;
  useSignal(model.packages.changed);
  const build = model.selectedBuild;
  const { value: packages, error } = model.packages.state;
  const [filter, setFilter] = useState('');

  const shown = useMemo(() => {
    const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
    return (packages ?? [])
      .filter(p =>
        words.every(w => `${p.name} ${p.version} ${p.channel}`.toLowerCase().includes(w))
      )
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [packages, filter]);

  if (!build) {
    return <p className="jp-CondaStore-muted">No build selected.</p>;
  }
  return (
    <div className="jp-CondaStore-packages">
      <div className="jp-CondaStore-filterBar">
        <SearchInput label="Filter packages" value={filter} onChange={setFilter} />
        <span className="jp-CondaStore-muted jp-CondaStore-volatile" role="status">
          {packages === null
            ? error
              ? ''
              : 'Loading…'
            : filter
              ? `${shown.length} of ${packages.length} packages`
              : `${packages.length} package${packages.length === 1 ? '' : 's'} in build ${build.id}`}
        </span>
      </div>
      <ErrorMessage error={error} doing={`list the packages of build ${build.id}`} />
      {packages !== null && packages.length === 0 && (
        <p className="jp-CondaStore-muted">
          {build.status === 'COMPLETED'
            ? 'This build has no packages.'
            : `Build ${build.id} is ${build.status.toLowerCase()}: packages are listed once it is solved.`}
        </p>
      )}
      {shown.length > 0 && (
        <table className="jp-CondaStore-table" aria-label={`Packages of build ${build.id}`}>
          <TableHead columns={['Name', 'Version', 'Build', 'Channel', 'Size']} />
          <tbody>
            {shown.map(p => (
              <tr key={`${p.manager}:${p.name}`} data-package={p.name}>
                <td>
                  {p.name}
                  {p.manager === 'pip' && <span className="jp-CondaStore-tag">pip</span>}
                </td>
                <td data-column="version">{p.version}</td>
                <td className="jp-CondaStore-mono">{p.build}</td>
                <td title={p.channel}>{channelLabel(p.channel)}</td>
                <td>{formatSize(p.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
