import React, { useEffect, useMemo, useState } from 'react';

import { ErrorMessage, SearchInput, TableHead, formatSize, useSignal } from '../components';
import { IBuild, IPackage, ISpecification } from '../models';
import { parseDependency } from '../spec';
import { EnvironmentViewModel } from './model';

/** What a build's specification asked for: the entry (`numpy>=1.26`) by manager and name. */
export function requestedBy(spec: ISpecification | null | undefined): Map<string, string> | null {
  if (!spec || spec.is_lockfile) {
    return null; // a lock file asks for exactly what it lists
  }
  const requested = new Map<string, string>();
  const dependencies = (spec.spec as { dependencies?: unknown }).dependencies;
  for (const entry of Array.isArray(dependencies) ? dependencies : []) {
    if (typeof entry === 'string') {
      const name = parseDependency(entry.replace(/^[^\s:]+::/, '')).name.toLowerCase();
      requested.set(`conda:${name}`, entry.trim());
    } else if (entry && Array.isArray(entry.pip)) {
      for (const requirement of entry.pip as unknown[]) {
        const match = /^\s*([A-Za-z0-9_.-]+)/.exec(String(requirement));
        if (match) {
          // pip compares names case-insensitively, `-`, `_` and `.` alike.
          requested.set(`pip:${pipName(match[1])}`, String(requirement).trim());
        }
      }
    }
  }
  return requested;
}

/** The specification of `build`: the list of builds leaves it out, the build itself has it. */
function useSpecification(
  api: EnvironmentViewModel['api'],
  build: IBuild | null
): ISpecification | null {
  const [fetched, setFetched] = useState<{ id: number; spec: ISpecification | null } | null>(null);
  const id = build?.id ?? null;
  const given = build?.specification ?? null;
  useEffect(() => {
    if (id === null || given) {
      return;
    }
    let stale = false;
    api.getBuild(id).then(
      full => !stale && setFetched({ id, spec: full.specification }),
      () => undefined
    );
    return () => {
      stale = true;
    };
  }, [api, id, given]);
  return given ?? (fetched && fetched.id === id ? fetched.spec : null);
}

function pipName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The entry of the specification that asked for `pkg`, if any. */
export function requestOf(requested: Map<string, string>, pkg: IPackage): string | undefined {
  return pkg.manager === 'pip'
    ? requested.get(`pip:${pipName(pkg.name)}`)
    : requested.get(`conda:${pkg.name.toLowerCase()}`);
}

function PackageTable(props: {
  label: string;
  packages: IPackage[];
  requested?: Map<string, string>;
}): JSX.Element {
  const { requested } = props;
  const columns = requested
    ? ['Name', 'Requested', 'Installed', 'Build', 'Channel', 'Size']
    : ['Name', 'Version', 'Build', 'Channel', 'Size'];
  return (
    <table className="jp-CondaStore-table" aria-label={props.label}>
      <TableHead columns={columns} />
      <tbody>
        {props.packages.map(p => (
          <tr key={`${p.manager}:${p.name}`} data-package={p.name}>
            <td>
              {p.name}
              {p.manager === 'pip' && <span className="jp-CondaStore-tag">pip</span>}
            </td>
            {requested && (
              <td className="jp-CondaStore-mono" data-column="requested">
                {requestOf(requested, p)}
              </td>
            )}
            <td data-column="version">{p.version}</td>
            <td className="jp-CondaStore-mono" data-column="build">
              {p.build}
            </td>
            <td title={p.channel}>{channelLabel(p.channel)}</td>
            <td>{formatSize(p.size)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

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

/**
 * The packages of the selected build (the model fetches them), with a filter: what its
 * specification requested (with the constraint asked for), then what came as dependencies.
 */
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

  const specification = useSpecification(model.api, build);
  const requested = useMemo(() => requestedBy(specification), [specification]);
  const asked = requested ? shown.filter(p => requestOf(requested, p) !== undefined) : [];
  const rest = requested ? shown.filter(p => requestOf(requested, p) === undefined) : shown;

  if (!build) {
    return <p className="jp-CondaStore-muted">No build selected.</p>;
  }
  return (
    <div className="jp-CondaStore-packages">
      <div className="jp-CondaStore-filterBar">
        <SearchInput label="Filter packages" value={filter} onChange={setFilter} />
        <span className="jp-CondaStore-muted" role="status">
          {packages === null
            ? error
              ? ''
              : 'Loading…'
            : filter
              ? `${shown.length} of ${packages.length} packages`
              : `${packages.length} package${packages.length === 1 ? '' : 's'} in build `}
          {/* Last in the row, so that its width (the id's digits) moves nothing else. */}
          {packages !== null && !filter && (
            <span className="jp-CondaStore-volatile">{build.id}</span>
          )}
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
      {asked.length > 0 && requested && (
        <section className="jp-CondaStore-packageSection" data-section="requested">
          <h3>Requested packages ({asked.length})</h3>
          <PackageTable
            label={`Requested packages of build ${build.id}`}
            packages={asked}
            requested={requested}
          />
        </section>
      )}
      {rest.length > 0 && (
        <section className="jp-CondaStore-packageSection" data-section="installed">
          {requested && <h3>Installed as dependencies ({rest.length})</h3>}
          <PackageTable
            label={
              requested ? `Dependencies of build ${build.id}` : `Packages of build ${build.id}`
            }
            packages={rest}
          />
        </section>
      )}
    </div>
  );
}
