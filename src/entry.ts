/** One environment's state from its builds, and the words the sidebar and the views say it with. */
import { IBuild, IEnvironment } from './models';
import { EnvironmentState, IEnvironmentEntry } from './tokens';

/** One environment's state in one word, and a sentence saying why. */
export function entryOf(
  environment: IEnvironment,
  active: IBuild | undefined,
  newest: IBuild | undefined
): IEnvironmentEntry {
  const current = environment.current_build;
  const usable = !!current && current.status === 'COMPLETED';
  // Until one completes, the server reports the newest build as current: it is the latest one
  // even when older than the recent builds looked at (a large store).
  const latest = newest ?? (current && !usable ? current : undefined);
  let state: EnvironmentState;
  let detail: string;
  if (active) {
    state = active.status === 'BUILDING' ? 'building' : 'queued';
    const place = active.queue_position ? ` (#${active.queue_position} in the queue)` : '';
    // A collected build being restored is reinstalled from its lock file: no new packages.
    const doing = active.collected_on
      ? active.status === 'BUILDING'
        ? 'being restored'
        : `waiting to be restored${place}`
      : active.status === 'BUILDING'
        ? 'running'
        : `waiting to start${place}`;
    // A restore replaces nothing by itself (a rollback to it does, when it completes).
    const until = active.collected_on ? '' : ' until it completes';
    detail =
      `Build ${active.id} is ${doing}` +
      (current && current.status === 'COMPLETED' && current.id !== active.id
        ? `; build ${current.id} is in use${until}.`
        : '.');
  } else if (current && current.status === 'COMPLETED') {
    state = 'ready';
    detail = `Ready: build ${current.id} is in use.`;
    if (latest && latest.id > current.id && latest.status === 'FAILED') {
      detail += ` The newer build ${latest.id} failed.`;
    } else if (latest && latest.id > current.id && latest.status === 'CANCELED') {
      detail += ` The newer build ${latest.id} was canceled.`;
    }
  } else if (latest && latest.status === 'FAILED') {
    state = 'failed';
    detail = `Build ${latest.id} failed${latest.status_info ? `: ${brief(latest.status_info)}` : '.'}`;
  } else if (latest && latest.status === 'CANCELED') {
    state = 'canceled';
    detail = `Build ${latest.id} was canceled; there is no build to use yet.`;
  } else {
    state = 'empty';
    detail = 'No build yet.';
  }
  return {
    environment,
    state,
    detail,
    activeBuildId: active?.id ?? null,
    activeStatus: active?.status ?? null,
    usable,
    queuePosition: active?.status === 'QUEUED' ? (active.queue_position ?? null) : null
  };
}

/** The start of a long message, cut at a word boundary. */
export function brief(text: string, length = 90): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= length) {
    return flat;
  }
  const cut = flat.slice(0, length);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), length / 2))}…`;
}

/** Words for a state, as the badges show them. */
export const STATE_LABELS: Record<EnvironmentState, string> = {
  ready: 'ready',
  building: 'building',
  queued: 'queued',
  failed: 'failed',
  canceled: 'canceled',
  empty: 'no build'
};

/**
 * What a row's badge says: its state, and for an environment still usable while a newer build
 * runs or waits, both (`ready · rebuilding`); a queued build says its place when known.
 */
export function stateText(entry: IEnvironmentEntry): string {
  const place = entry.state === 'queued' && entry.queuePosition ? ` #${entry.queuePosition}` : '';
  if (entry.usable && entry.state === 'building') {
    return 'ready · rebuilding';
  }
  if (entry.usable && entry.state === 'queued') {
    return `ready · queued${place}`;
  }
  return `${STATE_LABELS[entry.state]}${place}`;
}
