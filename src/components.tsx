/** Small React pieces shared by the sidebar, the environment view and the dialogs. */
import { ISignal } from '@lumino/signaling';
import React, { useEffect, useReducer } from 'react';

import { BuildStatus, INamespaceUsage } from './models';
import { STATE_LABELS, stateText } from './model';
import { CondaStoreError } from './request';
import { EnvironmentState, IEnvironmentEntry } from './tokens';

/** Re-render when a signal fires. */
export function useSignal(signal: ISignal<unknown, unknown> | null | undefined): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (!signal) {
      return;
    }
    const slot = () => bump();
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/** The badge of an environment's state. */
export function StateBadge(props: { state: EnvironmentState; title?: string }): JSX.Element {
  return (
    <span className="jp-CondaStore-badge" data-state={props.state} title={props.title}>
      {STATE_LABELS[props.state]}
    </span>
  );
}

/**
 * The badge of an environment as it is now: its state, "ready · rebuilding" while a newer build
 * runs on a usable one, a queued build's place.
 */
export function EntryBadge(props: { entry: IEnvironmentEntry; title?: string }): JSX.Element {
  const { entry } = props;
  return (
    <span
      className="jp-CondaStore-badge"
      data-state={entry.state}
      data-usable={entry.usable && entry.state !== 'ready' ? 'true' : undefined}
      title={props.title}
    >
      {stateText(entry)}
    </span>
  );
}

const BUILD_STATE: Record<BuildStatus, EnvironmentState> = {
  QUEUED: 'queued',
  BUILDING: 'building',
  COMPLETED: 'ready',
  FAILED: 'failed',
  CANCELED: 'canceled'
};

/** The badge of a build's status (the API's words, in lower case). */
export function BuildBadge(props: { status: BuildStatus; title?: string }): JSX.Element {
  return (
    <span
      className="jp-CondaStore-badge"
      data-state={BUILD_STATE[props.status]}
      data-status={props.status}
      title={props.title}
    >
      {props.status.toLowerCase()}
    </span>
  );
}

/** What to tell a person about an error, in words they can act on. */
export function errorText(error: unknown, doing?: string): string {
  const prefix = doing ? `Could not ${doing}: ` : '';
  if (error instanceof CondaStoreError) {
    if (error.isExtensionMissing) {
      return 'The conda-store-jupyter server extension is not available on this server.';
    }
    if (error.status === 403) {
      const end = error.message.endsWith('.') ? '' : '.';
      return `${prefix}${error.message}${end} Ask an administrator of the namespace for that role.`;
    }
    return `${prefix}${error.message}`;
  }
  return `${prefix}${(error as Error)?.message ?? String(error)}`;
}

/** An error shown where it happened. */
export function ErrorMessage(props: {
  error: unknown;
  doing?: string;
  onDismiss?: () => void;
}): JSX.Element | null {
  if (!props.error) {
    return null;
  }
  return (
    <div className="jp-CondaStore-error" role="alert">
      <span>{errorText(props.error, props.doing)}</span>
      {props.onDismiss && (
        <button
          className="jp-CondaStore-linkButton"
          onClick={props.onDismiss}
          aria-label="Dismiss the message"
        >
          Dismiss
        </button>
      )}
    </div>
  );
}

/** Bytes as KiB/MiB/GiB. */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || bytes <= 0) {
    return '—';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Bytes in words, "0 B" for none (a namespace with nothing on disk). */
function bytesText(bytes: number | null | undefined): string {
  return bytes ? formatSize(bytes) : '0 B';
}

/** How full a namespace's quota is, for styling: "over" (or at it), "near" (90%), or none. */
export function quotaLevel(usage: INamespaceUsage): 'over' | 'near' | undefined {
  const { quota, quota_used: used } = usage;
  if (!quota || used === undefined) {
    return undefined;
  }
  return used >= quota ? 'over' : used >= 0.9 * quota ? 'near' : undefined;
}

/** A namespace's disk usage in a few words: "1.2 GiB", with a quota "1.2 GiB of 5.0 GiB". */
export function usageText(usage: INamespaceUsage): string {
  return usage.quota
    ? `${bytesText(usage.quota_used ?? usage.bytes)} of ${formatSize(usage.quota)}`
    : bytesText(usage.bytes);
}

/** A namespace's disk usage in sentences (a tooltip). */
export function usageDetail(usage: INamespaceUsage): string {
  const counts = `${usage.environments} environment${usage.environments === 1 ? '' : 's'}, ${usage.builds} build${usage.builds === 1 ? '' : 's'}`;
  const quota = usage.quota
    ? ` Counted against its quota: ${bytesText(usage.quota_used)} of ${formatSize(usage.quota)}.`
    : ' No quota.';
  return `${bytesText(usage.bytes)} on disk (${counts}).${quota}`;
}

/** A duration in words: 0.4 s, 12 s, 3 min 5 s, 1 h 2 min. */
export function formatDuration(ms: number | null): string {
  if (ms === null || ms < 0 || !isFinite(ms)) {
    return '—';
  }
  const seconds = ms / 1000;
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A date and time in the user's locale, short. */
export function formatTime(date: Date | null): string {
  if (!date) {
    return '—';
  }
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
}

/** A search box, named by its placeholder. */
export function SearchInput(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
}): JSX.Element {
  return (
    <input
      type="search"
      className="jp-CondaStore-input"
      placeholder={props.label}
      aria-label={props.label}
      value={props.value}
      onChange={event => props.onChange(event.target.value)}
      disabled={props.disabled}
    />
  );
}

/**
 * A text field of a dialog form: its label and input (then `children`, such as a datalist), and
 * under them the line `helpId` that describes it: `note`, shown as an error when `problem`.
 */
export function TextField(props: {
  label: string;
  helpId: string;
  problem: unknown;
  note: React.ReactNode;
  /** Announce the problem as it appears. */
  alert?: boolean;
  input: React.InputHTMLAttributes<HTMLInputElement>;
  children?: React.ReactNode;
}): JSX.Element {
  const { problem } = props;
  return (
    <>
      <label className="jp-CondaStore-field">
        <span>{props.label}</span>
        <input
          className="jp-CondaStore-input"
          aria-invalid={!!problem}
          aria-describedby={props.helpId}
          {...props.input}
        />
        {props.children}
      </label>
      <p
        id={props.helpId}
        className={problem ? 'jp-CondaStore-fieldError' : 'jp-CondaStore-muted'}
        role={props.alert && problem ? 'alert' : undefined}
      >
        {props.note}
      </p>
    </>
  );
}

/**
 * A namespace to type or pick among `namespaces`. Its note says `note` (`emptyNote` while empty),
 * that a namespace not among them will be created, or the field's problem.
 */
export function NamespaceField(props: {
  /** Names its help and its list of choices. */
  id: string;
  namespaces: ReadonlyArray<string>;
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  problem: React.ReactNode;
  note: string;
  emptyNote?: string;
  placeholder?: string;
  alert?: boolean;
}): JSX.Element {
  const namespace = props.value.trim();
  const listId = `${props.id}Options`;
  return (
    <TextField
      label="Namespace"
      helpId={`${props.id}Help`}
      problem={props.problem}
      alert={props.alert}
      note={
        props.problem ||
        (!namespace
          ? (props.emptyNote ?? props.note)
          : props.namespaces.includes(namespace)
            ? props.note
            : `Namespace ${namespace} will be created.`)
      }
      input={{
        name: 'namespace',
        list: listId,
        value: props.value,
        placeholder: props.placeholder,
        onChange: e => props.onChange(e.target.value),
        onBlur: props.onBlur
      }}
    >
      <datalist id={listId}>
        {props.namespaces.map(ns => (
          <option key={ns} value={ns} />
        ))}
      </datalist>
    </TextField>
  );
}

/** The head of a table: a column heading each. */
export function TableHead(props: { columns: React.ReactNode[] }): JSX.Element {
  return (
    <thead>
      <tr>
        {props.columns.map((column, index) => (
          <th scope="col" key={index}>
            {column}
          </th>
        ))}
      </tr>
    </thead>
  );
}
