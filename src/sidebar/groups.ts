/** What the sidebar lists: namespaces, their environments and drafts, narrowed by the filters. */
import type { IStoredDraft } from '../drafts';
import type { INamespace } from '../models';
import type { IEnvironmentEntry } from '../tokens';

/** The states the state filter offers. */
export type StateFilter = 'all' | 'ready' | 'building' | 'queued' | 'failed';

export const STATE_FILTERS: ReadonlyArray<{ value: StateFilter; label: string }> = [
  { value: 'all', label: 'All states' },
  { value: 'ready', label: 'Ready' },
  { value: 'building', label: 'Building' },
  { value: 'queued', label: 'Queued' },
  { value: 'failed', label: 'Failed' }
];

/** One row under a namespace: an environment (maybe with an unbuilt edit), or a new one's draft. */
export type SidebarRow =
  | { kind: 'environment'; entry: IEnvironmentEntry; draft: IStoredDraft | null }
  | { kind: 'draft'; draft: IStoredDraft };

export interface INamespaceGroup {
  name: string;
  rows: SidebarRow[];
  /** Whether its environments are loaded (a large store loads a namespace when expanded). */
  loaded: boolean;
  /** Counts over the namespace's environments as shown (what a collapsed header summarises). */
  failed: number;
  building: number;
  queued: number;
}

export interface IFilters {
  /** Words that must all appear in the name, the namespace or the description. */
  query: string;
  state: StateFilter;
  /** Ids of the environments having the package asked for; null: no package filter. */
  withPackage: ReadonlySet<number> | null;
}

export const NO_FILTERS: IFilters = { query: '', state: 'all', withPackage: null };

export function isFiltered(filters: IFilters): boolean {
  return !!filters.query.trim() || filters.state !== 'all' || filters.withPackage !== null;
}

function hasWords(haystack: string, query: string): boolean {
  const text = haystack.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every(word => text.includes(word));
}

/** Whether an environment is in a state the filter asks for; a rebuilt one is still ready. */
export function inState(entry: IEnvironmentEntry, state: StateFilter): boolean {
  switch (state) {
    case 'all':
      return true;
    case 'ready':
      return entry.state === 'ready' || !!entry.usable;
    case 'failed':
      return entry.state === 'failed';
    default:
      return entry.state === state;
  }
}

function entryMatches(entry: IEnvironmentEntry, filters: IFilters): boolean {
  const { environment } = entry;
  const text = [environment.name, environment.namespace.name, environment.description ?? ''];
  return (
    hasWords(text.join(' '), filters.query) &&
    inState(entry, filters.state) &&
    (filters.withPackage === null || filters.withPackage.has(environment.id))
  );
}

/** A new environment's draft has no state and no package: only the words can match it. */
function draftMatches(draft: IStoredDraft, filters: IFilters): boolean {
  return (
    filters.state === 'all' &&
    filters.withPackage === null &&
    hasWords(`${draft.name} ${draft.namespace} ${draft.description ?? ''}`, filters.query)
  );
}

/**
 * The namespaces to show, sorted, each with its rows sorted by name. While filtering, a
 * namespace is left out when nothing in it matches (unless its own name matches the words).
 */
export function groupRows(
  namespaces: ReadonlyArray<INamespace>,
  entries: ReadonlyArray<IEnvironmentEntry>,
  drafts: ReadonlyArray<IStoredDraft>,
  filters: IFilters,
  isLoaded: (namespace: string) => boolean = () => true
): INamespaceGroup[] {
  // Bucketed once: a large store has thousands of entries and hundreds of namespaces.
  const byNamespace = new Map<string, IEnvironmentEntry[]>(namespaces.map(n => [n.name, []]));
  for (const entry of entries) {
    const name = entry.environment.namespace.name;
    const bucket = byNamespace.get(name);
    if (bucket) {
      bucket.push(entry);
    } else {
      byNamespace.set(name, [entry]);
    }
  }
  const existing = new Set(entries.map(keyOf));
  const draftOf = new Map(drafts.map(d => [`${d.namespace}/${d.name}`, d]));
  const newDrafts = drafts.filter(d => d.isNew && !existing.has(`${d.namespace}/${d.name}`));
  newDrafts.forEach(d => byNamespace.has(d.namespace) || byNamespace.set(d.namespace, []));

  const filtered = isFiltered(filters);
  const query = filters.query.trim().toLowerCase();
  const order = new Intl.Collator();
  const groups: INamespaceGroup[] = [];
  for (const name of Array.from(byNamespace.keys()).sort((a, b) => a.localeCompare(b))) {
    const rows: SidebarRow[] = [];
    for (const entry of byNamespace.get(name) ?? []) {
      if (entryMatches(entry, filters)) {
        rows.push({ kind: 'environment', entry, draft: draftOf.get(keyOf(entry)) ?? null });
      }
    }
    for (const draft of newDrafts) {
      if (draft.namespace === name && draftMatches(draft, filters)) {
        rows.push({ kind: 'draft', draft });
      }
    }
    rows.sort((a, b) => order.compare(rowName(a), rowName(b)));
    const namespaceMatches =
      !!query && filters.state === 'all' && !filters.withPackage && name.includes(query);
    if (filtered && rows.length === 0 && !namespaceMatches) {
      continue;
    }
    const shown = rows.flatMap(r => (r.kind === 'environment' ? [r.entry] : []));
    groups.push({
      name,
      rows,
      loaded: isLoaded(name),
      failed: shown.filter(e => e.state === 'failed').length,
      building: shown.filter(e => e.state === 'building').length,
      queued: shown.filter(e => e.state === 'queued').length
    });
  }
  return groups;
}

function keyOf(entry: IEnvironmentEntry): string {
  return `${entry.environment.namespace.name}/${entry.environment.name}`;
}

export function rowName(row: SidebarRow): string {
  return row.kind === 'environment' ? row.entry.environment.name : row.draft.name;
}

/** The footer's count of the store's activity: "1 building, 3 queued". */
export function activityText(entries: ReadonlyArray<IEnvironmentEntry>): string {
  const building = entries.filter(e => e.activeStatus === 'BUILDING').length;
  const queued = entries.filter(e => e.activeStatus === 'QUEUED').length;
  return [building ? `${building} building` : '', queued ? `${queued} queued` : '']
    .filter(Boolean)
    .join(', ');
}

/** When the list was last refreshed, in words that stay true as time passes. */
export function updatedText(updated: Date | null, now: number): string {
  if (!updated) {
    return '';
  }
  const minutes = Math.floor((now - updated.getTime()) / 60000);
  if (minutes < 1) {
    return 'Updated just now';
  }
  if (minutes < 60) {
    return `Updated ${minutes} min ago`;
  }
  return `Updated ${Math.floor(minutes / 60)} h ago`;
}
