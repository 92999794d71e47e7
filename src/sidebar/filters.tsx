/** The sidebar's filters beside the search: by state, and by a package (asked of the server). */
import React, { useEffect, useState } from 'react';

import { errorText } from '../components';
import type { IEnvironmentsModel } from '../tokens';
import { STATE_FILTERS, StateFilter } from './groups';

/** How long typing must pause before the package is asked for. */
export const PACKAGE_DEBOUNCE_MS = 350;

export interface IPackageFilter {
  /** Ids of the environments whose current build has the package; null: no package asked. */
  ids: ReadonlySet<number> | null;
  loading: boolean;
  error: unknown;
}

/**
 * The environments having `name` (exact, as the API matches it), asked again when the list is
 * refreshed so the answer follows new builds; an answer for a name no longer wanted is dropped.
 */
export function usePackageFilter(model: IEnvironmentsModel, name: string): IPackageFilter {
  const wanted = name.trim().toLowerCase();
  const [state, setState] = useState<IPackageFilter>({ ids: null, loading: false, error: null });
  const updated = model.updated?.getTime() ?? 0;
  useEffect(() => {
    if (!wanted || !model.withPackages) {
      setState({ ids: null, loading: false, error: null });
      return;
    }
    let live = true;
    setState(previous => ({ ...previous, loading: true }));
    const timer = setTimeout(() => {
      model.withPackages!([wanted]).then(
        environments =>
          live &&
          setState({ ids: new Set(environments.map(e => e.id)), loading: false, error: null }),
        error => live && setState({ ids: new Set(), loading: false, error })
      );
    }, PACKAGE_DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [model, wanted, updated]);
  return wanted ? state : { ids: null, loading: false, error: null };
}

/** How long typing must pause before a large store's server is searched. */
export const SEARCH_DEBOUNCE_MS = 300;

/**
 * A large store (not all loaded) looks for the words' environments on the server too, so a
 * search finds them in collapsed namespaces; the words then filter what came back.
 */
export function useServerSearch(model: IEnvironmentsModel, query: string): void {
  const complete = model.complete !== false;
  useEffect(() => {
    if (!model.find) {
      return;
    }
    const wanted = complete ? '' : query;
    const timer = setTimeout(
      () => void model.find!(wanted).catch(() => undefined),
      wanted.trim() ? SEARCH_DEBOUNCE_MS : 0
    );
    return () => clearTimeout(timer);
  }, [model, query, complete]);
}

export function FilterBar(props: {
  state: StateFilter;
  onState: (state: StateFilter) => void;
  packageName: string;
  onPackage: (name: string) => void;
  packageFilter: IPackageFilter;
  disabled?: boolean;
}): JSX.Element {
  const { packageFilter } = props;
  return (
    <div className="jp-CondaStore-filters">
      <select
        className="jp-CondaStore-input jp-CondaStore-stateFilter"
        aria-label="Filter by state"
        value={props.state}
        onChange={event => props.onState(event.target.value as StateFilter)}
        disabled={props.disabled}
      >
        {STATE_FILTERS.map(option => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      <input
        type="search"
        className="jp-CondaStore-input jp-CondaStore-packageFilter"
        placeholder="With package…"
        aria-label="Filter by package (exact name)"
        title="Environments whose current build has this package (its exact name)"
        value={props.packageName}
        onChange={event => props.onPackage(event.target.value)}
        disabled={props.disabled}
        aria-busy={packageFilter.loading}
      />
      {!!packageFilter.error && (
        <p className="jp-CondaStore-fieldError" role="alert">
          {errorText(packageFilter.error, 'filter by package')}
        </p>
      )}
    </div>
  );
}
