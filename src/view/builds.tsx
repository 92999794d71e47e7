import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import {
  BuildBadge,
  ErrorMessage,
  TableHead,
  formatDuration,
  formatSize,
  formatTime,
  useSignal
} from '../components';
import { IBuild, IBuildDiff, isActive, isCollected, isRestoring, parseDate } from '../models';
import { EnvironmentViewModel } from './model';

/** What a collected build's state means (its badge's and its size's tooltip). */
export const COLLECTED_TIP =
  'Its prefix was removed by garbage collection; its lock file, log and specification are kept';

/**
 * The status of a build: its badge, or for a garbage-collected one "collected" (muted) and
 * "restoring" while it is reinstalled (queued or building again, still collected).
 */
export function BuildStatusBadge(props: { build: IBuild }): JSX.Element {
  const { build } = props;
  if (isRestoring(build)) {
    return (
      <span
        className="jp-CondaStore-badge"
        data-state={build.status === 'BUILDING' ? 'building' : 'queued'}
        data-status={build.status}
        data-collected="true"
        title={`${build.status === 'BUILDING' ? 'Being reinstalled' : 'Waiting to be reinstalled'} from its lock file (the same packages, no solve)`}
      >
        restoring
      </span>
    );
  }
  if (isCollected(build) && build.status === 'COMPLETED') {
    return (
      <span
        className="jp-CondaStore-badge"
        data-state="collected"
        data-status={build.status}
        data-collected="true"
        title={`${COLLECTED_TIP}. Restore reinstalls it from its lock file.`}
      >
        collected
      </span>
    );
  }
  return <BuildBadge status={build.status} title={build.status_info ?? undefined} />;
}

/** Start, end and duration of a build (a running one's duration keeps growing). */
export function buildTimes(
  build: IBuild,
  now: number
): { start: Date | null; duration: number | null } {
  const start = parseDate(build.started_on);
  const end = parseDate(build.ended_on);
  if (!start) {
    return { start: parseDate(build.scheduled_on), duration: null };
  }
  return { start, duration: (end ? end.getTime() : now) - start.getTime() };
}

function useNow(ticking: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!ticking) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

/** The differences between two builds' packages, as a table. */
export function DiffTable(props: { diff: IBuildDiff; from: number; to: number }): JSX.Element {
  const { diff } = props;
  const rows: Array<{ name: string; change: string; from: string; to: string }> = [
    ...diff.changed.map(c => ({
      name: c.name,
      change: 'changed',
      from: `${c.old.version} (${c.old.build})`,
      to: `${c.new.version} (${c.new.build})`
    })),
    ...diff.added.map(p => ({
      name: p.name,
      change: 'added',
      from: '—',
      to: `${p.version} (${p.build})`
    })),
    ...diff.removed.map(p => ({
      name: p.name,
      change: 'removed',
      from: `${p.version} (${p.build})`,
      to: '—'
    }))
  ].sort((a, b) => a.name.localeCompare(b.name));
  if (rows.length === 0) {
    return (
      <p className="jp-CondaStore-muted">
        Builds {props.from} and {props.to} have the same packages.
      </p>
    );
  }
  return (
    <table
      className="jp-CondaStore-table"
      aria-label={`Differences from build ${props.from} to build ${props.to}`}
    >
      <TableHead columns={['Package', 'Change', <>Build {props.from}</>, <>Build {props.to}</>]} />
      <tbody>
        {rows.map(row => (
          <tr key={row.name} data-change={row.change}>
            <td>{row.name}</td>
            <td>
              <span className="jp-CondaStore-change" data-change={row.change}>
                {row.change}
              </span>
            </td>
            <td>{row.from}</td>
            <td>{row.to}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What a rollback changes, in sentences, for the confirmation dialog. */
function RollbackSummary(props: {
  model: EnvironmentViewModel;
  target: number;
  current: number | null;
  /** The target was garbage-collected: the server restores it first. */
  collected: boolean;
  diff: IBuildDiff | null;
  diffError: unknown;
}): JSX.Element {
  const { model, target, current, diff } = props;
  const env = `${model.namespace}/${model.name}`;
  const changes = diff ? diff.added.length + diff.removed.length + diff.changed.length : 0;
  return (
    <div className="jp-CondaStore-dialogBody">
      <p>
        {current === null
          ? `Build ${target} becomes the build of ${env}.`
          : `${env} switches from build ${current} to build ${target}.`}{' '}
        New kernels, notebooks and consoles use build {target}; running kernels keep the packages
        they started with until they restart.
      </p>
      {props.collected && (
        <p className="jp-CondaStore-collectedNote">
          Build {target} was removed by garbage collection: it is restored first, reinstalled from
          its lock file (the same packages, no solve), and becomes current when the restore
          completes
          {current !== null ? `; until then ${env} keeps build ${current}` : ''}.
        </p>
      )}
      {diff && changes === 0 && <p>The packages are the same in both builds.</p>}
      {diff && changes > 0 && (
        <>
          <p>
            {[
              diff.changed.length &&
                `${diff.changed.length} package${diff.changed.length > 1 ? 's change' : ' changes'} version`,
              diff.added.length && `${diff.added.length} added`,
              diff.removed.length && `${diff.removed.length} removed`
            ]
              .filter(Boolean)
              .join(', ')}
            :
          </p>
          <div className="jp-CondaStore-dialogScroll">
            <DiffTable diff={diff} from={current!} to={target} />
          </div>
        </>
      )}
      {props.diffError !== null && props.diffError !== undefined && (
        <p className="jp-CondaStore-muted">(The list of package changes could not be loaded.)</p>
      )}
    </div>
  );
}

async function confirmMakeCurrent(model: EnvironmentViewModel, target: number): Promise<boolean> {
  const current = model.currentBuildId;
  const collected = isCollected(model.builds.find(b => b.id === target));
  const back = current !== null && target < current;
  const verb = back ? `roll back to build ${target}` : `make build ${target} current`;
  let diff: IBuildDiff | null = null;
  let diffError: unknown = null;
  if (current !== null && current !== target) {
    try {
      diff = await model.diff(current, target);
    } catch (error) {
      diffError = error;
    }
  }
  const result = await showDialog({
    title: back ? `Roll back to build ${target}?` : `Make build ${target} current?`,
    body: (
      <RollbackSummary
        model={model}
        target={target}
        current={current}
        collected={collected}
        diff={diff}
        diffError={diffError}
      />
    ),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({
        label: collected ? `Restore and ${verb}` : verb[0].toUpperCase() + verb.slice(1)
      })
    ]
  });
  return result.button.accept;
}

async function confirmDelete(model: EnvironmentViewModel, id: number): Promise<boolean> {
  const result = await showDialog({
    title: `Delete build ${id}?`,
    body: `Build ${id} of ${model.namespace}/${model.name}, its installed files, lock file and other artifacts are removed. This cannot be undone.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: `Delete build ${id}` })]
  });
  return result.button.accept;
}

/** The comparison of a build with another (the model fetches their differences). */
function DiffPanel(props: { model: EnvironmentViewModel; from: number }): JSX.Element {
  const { model, from } = props;
  const { comparison } = model;
  const others = model.builds.filter(b => b.id !== from && b.status === 'COMPLETED');
  const to = comparison.to;
  const { value: diff, error } = comparison.differences.state;
  return (
    <section className="jp-CondaStore-diff" aria-label={`Compare build ${from}`}>
      <div className="jp-CondaStore-diffHeader">
        <label>
          Compare build {from} with{' '}
          <select
            className="jp-CondaStore-select"
            value={to ?? ''}
            onChange={e => comparison.show(from, e.target.value ? Number(e.target.value) : null)}
            aria-label="Build to compare with"
          >
            {others.length === 0 && <option value="">no other completed build</option>}
            {others.map(b => (
              <option key={b.id} value={b.id}>
                build {b.id}
                {b.id === model.currentBuildId ? ' (current)' : ''}
              </option>
            ))}
          </select>
        </label>
        <button className="jp-CondaStore-linkButton" onClick={() => comparison.show(null)}>
          Close comparison
        </button>
      </div>
      <ErrorMessage error={error} doing="compare the builds" />
      {diff && to !== null && <DiffTable diff={diff} from={to} to={from} />}
    </section>
  );
}

/** One of a build's actions: `doing` (e.g. `cancel build 3`), run as `id` with `onRun`. */
interface IBuildAction {
  /** The id of the action that runs now; null: none. */
  busy: string | null;
  id: string;
  doing: string;
  onRun: () => void;
}

/**
 * The button of one of a build's actions, named by what it does: disabled while any action
 * runs, it says `busyText` (if given) while its own does.
 */
function ActionButton(
  props: IBuildAction & {
    variant?: string;
    title?: string;
    busyText?: string;
    children: React.ReactNode;
  }
): JSX.Element {
  const { busy, doing } = props;
  return (
    <button
      className={
        props.variant ? `jp-CondaStore-smallButton ${props.variant}` : 'jp-CondaStore-smallButton'
      }
      disabled={busy !== null}
      onClick={props.onRun}
      aria-label={doing[0].toUpperCase() + doing.slice(1)}
      title={props.title}
    >
      {busy === props.id && props.busyText ? props.busyText : props.children}
    </button>
  );
}

/** Build history with its actions. */
export function BuildsView(props: { model: EnvironmentViewModel }): JSX.Element {
  const { model } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<{ error: unknown; doing: string } | null>(null);
  useSignal(model.comparison.changed);
  const comparing = model.comparison.from;
  const now = useNow(model.builds.some(b => isActive(b.status)));
  const completed = model.builds.filter(b => b.status === 'COMPLETED').length;

  const run = async (key: string, doing: string, action: () => Promise<unknown>) => {
    setBusy(key);
    setError(null);
    try {
      await action();
    } catch (reason) {
      setError({ error: reason, doing });
    } finally {
      setBusy(null);
    }
  };
  const action = (id: string, doing: string, act: () => Promise<unknown>): IBuildAction => ({
    busy,
    id,
    doing,
    onRun: () => void run(id, doing, act)
  });

  if (!model.builds.length) {
    return <p className="jp-CondaStore-muted">No builds yet.</p>;
  }
  return (
    <div className="jp-CondaStore-builds">
      {error && (
        <ErrorMessage error={error.error} doing={error.doing} onDismiss={() => setError(null)} />
      )}
      <table className="jp-CondaStore-table jp-CondaStore-buildsTable" aria-label="Builds">
        {/* Fixed column widths (style/base.css): cell content, such as times, never resizes them. */}
        <colgroup>
          <col className="jp-CondaStore-col-build" />
          <col className="jp-CondaStore-col-status" />
          <col className="jp-CondaStore-col-started" />
          <col className="jp-CondaStore-col-duration" />
          <col className="jp-CondaStore-col-size" />
          <col className="jp-CondaStore-col-actions" />
        </colgroup>
        <TableHead
          columns={[
            'Build',
            'Status',
            'Started',
            'Duration',
            'Size',
            <span className="jp-CondaStore-visuallyHidden">Actions</span>
          ]}
        />
        <tbody>
          {model.builds.map(build => {
            const current = build.id === model.currentBuildId;
            const active = isActive(build.status);
            const { start, duration } = buildTimes(build, now);
            const selected = build.id === model.selectedBuildId;
            const collected = isCollected(build);
            return (
              <tr
                key={build.id}
                data-build-id={build.id}
                data-status={build.status}
                data-current={current || undefined}
                data-collected={collected || undefined}
                aria-selected={selected}
                className={
                  [selected && 'jp-mod-selected', collected && 'jp-mod-collected']
                    .filter(Boolean)
                    .join(' ') || undefined
                }
              >
                <td className="jp-CondaStore-buildId">
                  <button
                    className="jp-CondaStore-linkButton"
                    onClick={() => model.selectBuild(build.id)}
                    aria-label={`Select build ${build.id}`}
                    title="Show this build's log, packages and artifacts"
                  >
                    #{build.id}
                  </button>
                  {current && (
                    <span
                      className="jp-CondaStore-currentMarker"
                      title="The build the environment uses"
                    >
                      current
                    </span>
                  )}
                </td>
                <td>
                  <BuildStatusBadge build={build} />
                </td>
                <td className="jp-CondaStore-volatile">{formatTime(start)}</td>
                <td className="jp-CondaStore-volatile">{formatDuration(duration)}</td>
                <td
                  className="jp-CondaStore-volatile jp-CondaStore-buildSize"
                  title={
                    collected
                      ? `Its size as built, not on disk now. ${COLLECTED_TIP}.`
                      : 'Its prefix on disk, as built (files shared with other builds counted in each)'
                  }
                >
                  {formatSize(build.size)}
                </td>
                <td className="jp-CondaStore-actions">
                  <button
                    className="jp-CondaStore-smallButton"
                    onClick={() => {
                      model.selectBuild(build.id);
                      model.tab = 'log';
                    }}
                    aria-label={`Log of build ${build.id}`}
                  >
                    Log
                  </button>
                  {collected && build.status === 'COMPLETED' && (
                    <ActionButton
                      {...action(`restore-${build.id}`, `restore build ${build.id}`, () =>
                        model.restore(build.id)
                      )}
                      title="Reinstall its prefix from its lock file (the same packages, no solve)"
                      busyText="Restoring…"
                    >
                      Restore
                    </ActionButton>
                  )}
                  {active ? (
                    <ActionButton
                      {...action(`cancel-${build.id}`, `cancel build ${build.id}`, () =>
                        model.cancel(build.id)
                      )}
                      variant="jp-mod-warn"
                      busyText="Canceling…"
                    >
                      Cancel
                    </ActionButton>
                  ) : (
                    <ActionButton
                      {...action(`rebuild-${build.id}`, `rebuild build ${build.id}`, () =>
                        model.rebuild(build.id)
                      )}
                      title="Build the same specification again (newest package versions)"
                    >
                      Rebuild
                    </ActionButton>
                  )}
                  {build.status === 'COMPLETED' && !current && (
                    <ActionButton
                      title={collected ? 'Restored first, then made current' : undefined}
                      {...action(
                        `current-${build.id}`,
                        `make build ${build.id} current`,
                        async () => {
                          if (await confirmMakeCurrent(model, build.id)) {
                            await model.makeCurrent(build.id);
                          }
                        }
                      )}
                    >
                      Make current
                    </ActionButton>
                  )}
                  {build.status === 'COMPLETED' && completed > 1 && (
                    <button
                      className="jp-CondaStore-smallButton"
                      onClick={() =>
                        model.comparison.show(comparing === build.id ? null : build.id)
                      }
                      aria-label={`Compare build ${build.id}`}
                      aria-pressed={comparing === build.id}
                    >
                      Compare
                    </button>
                  )}
                  {!current && !active && (
                    <ActionButton
                      {...action(`delete-${build.id}`, `delete build ${build.id}`, async () => {
                        if (await confirmDelete(model, build.id)) {
                          await model.deleteBuild(build.id);
                        }
                      })}
                      variant="jp-mod-danger"
                    >
                      Delete
                    </ActionButton>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {comparing !== null && model.builds.some(b => b.id === comparing) && (
        <DiffPanel model={model} from={comparing} />
      )}
    </div>
  );
}
