/**
 * "Check": the server's dry-run solve of the text being edited, before building it. Its problems
 * join the editor's; what it would install is listed, the requested packages marked.
 */
import React, { useState } from 'react';

import type { ISolvedPackage, IValidateRequest, IValidation } from '../api';
import { checkKey } from '../validation';
import type { ISpecValidator } from '../validation';

export interface ISolveCheck {
  /** The answer for the current text (null when not checked since it changed). */
  result: IValidation | null;
  running: boolean;
  error: unknown;
  run: () => Promise<void>;
}

/** Solve `request` on demand; an answer counts only while the text is the one checked. */
export function useSolveCheck(
  validator: ISpecValidator,
  request: IValidateRequest | null
): ISolveCheck {
  const [answer, setAnswer] = useState<{
    key: string;
    result: IValidation | null;
    error: unknown;
  } | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const key = request ? checkKey({ ...request, solve: true }) : null;
  const run = async () => {
    if (!request || !key) {
      return;
    }
    setRunning(key);
    try {
      const result = await validator.validateSpecification({ ...request, solve: true });
      setAnswer({ key, result, error: null });
    } catch (error) {
      setAnswer({ key, result: null, error });
    } finally {
      setRunning(null);
    }
  };
  const current = !!key && answer?.key === key;
  return {
    result: current ? answer!.result : null,
    error: current ? answer!.error : null,
    running: !!key && running === key,
    run
  };
}

/** What the solve would install: requested packages first, marked. */
export function WouldInstall(props: { packages: ISolvedPackage[] }): JSX.Element {
  const sorted = [...props.packages].sort(
    (a, b) => Number(b.requested) - Number(a.requested) || a.name.localeCompare(b.name)
  );
  const requested = sorted.filter(p => p.requested).length;
  return (
    <details className="jp-CondaStore-wouldInstall">
      <summary>
        Would install {sorted.length} package{sorted.length === 1 ? '' : 's'} ({requested}{' '}
        requested)
      </summary>
      <table className="jp-CondaStore-table" aria-label="Packages the build would install">
        <thead>
          <tr>
            <th>Name</th>
            <th>Version</th>
            <th>Channel</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map(p => (
            <tr key={p.name} data-package={p.name} data-requested={p.requested}>
              <td>{p.name}</td>
              <td>{p.version}</td>
              <td title={p.channel}>{p.channel.replace(/\/+$/, '').split('/').pop()}</td>
              <td>
                {p.requested ? (
                  <span className="jp-CondaStore-tag">
                    requested{p.requested_as ? `: ${p.requested_as}` : ''}
                  </span>
                ) : (
                  <span className="jp-CondaStore-muted">dependency</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
