import { Poll } from '@lumino/polling';

/**
 * Run a poll now and wait for that tick, whether or not it was started yet (a model may be asked
 * to refresh before anything started its poll).
 */
export async function refreshNow(poll: Poll): Promise<void> {
  if (poll.state.phase === 'constructed') {
    await poll.start();
  } else {
    await poll.refresh();
  }
  await poll.tick.catch(() => undefined);
}
