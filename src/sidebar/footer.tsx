/** The sidebar's footer: what the store is doing, when the list was refreshed, the version. */
import React, { useEffect, useReducer } from 'react';

import type { IEnvironmentsModel } from '../tokens';
import { activityText, updatedText } from './groups';

/** Re-render now and then, so "Updated 2 min ago" stays true while nothing else changes. */
function useClock(ms: number): number {
  const [, tick] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  }, [ms]);
  return Date.now();
}

function refreshPolicy(model: IEnvironmentsModel): string {
  const idle = model.idleInterval ?? 0;
  return idle > 0
    ? `It refreshes every ${Math.round(idle / 1000)} s while shown (every few seconds while something builds).`
    : 'When nothing builds it refreshes only when shown or with Refresh (setting “Refresh interval when nothing builds”).';
}

export function SidebarFooter(props: { model: IEnvironmentsModel }): JSX.Element {
  const { model } = props;
  const now = useClock(20_000);
  const activity = activityText(model.entries);
  const updated = model.updated ?? null;
  const text = !model.loaded || model.error ? '' : activity || updatedText(updated, now);
  const title = updated
    ? `Last refreshed at ${updated.toLocaleTimeString()}. ${refreshPolicy(model)}`
    : undefined;
  return (
    <footer className="jp-CondaStore-footer">
      <span className="jp-CondaStore-liveStatus" role="status" aria-live="polite" title={title}>
        {text}
      </span>
      {model.version && (
        <span className="jp-CondaStore-serverVersion" title="conda-store-jupyter server version">
          server <span className="jp-CondaStore-version">{model.version}</span>
        </span>
      )}
    </footer>
  );
}
