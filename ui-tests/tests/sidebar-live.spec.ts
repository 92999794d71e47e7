import { expect } from '@jupyterlab/galata';
import { APIRequestContext } from '@playwright/test';

import { API, CondaStorePage, submit, test, unique, viewId } from './helpers';

/** Environments made over the REST API, as another user or a script would. */
const OTHERS = 30;
/** The default idle refresh (schema/plugin.json), plus room for the poll's 2 s check. */
const IDLE_REFRESH_MS = 10_000;

async function activeBuilds(request: APIRequestContext, namespace: string): Promise<number> {
  let count = 0;
  for (const status of ['QUEUED', 'BUILDING']) {
    const response = await request.get(`${API}/build/?namespace=${namespace}&status=${status}`);
    count += (await response.json()).count;
  }
  return count;
}

test.describe('the sidebar keeps up and narrows down', () => {
  test.setTimeout(180_000);

  test('others’ environments appear unasked; filters, empty state and arrow keys', async ({
    page,
    request
  }) => {
    const store = new CondaStorePage(page);
    const sidebar = await store.openSidebar();
    const footer = sidebar.locator('.jp-CondaStore-liveStatus');
    await expect(footer).toHaveText(/^Updated just now$/);

    // (a) While the sidebar is open and idle, 30 environments arrive over the REST API (solving
    // fails at once: cheap), and one that builds. Nobody clicks anything.
    const namespace = unique('live');
    expect((await request.post(`${API}/namespace/${namespace}/`)).ok()).toBeTruthy();
    const keep = 'keep';
    const started = Date.now();
    await submit(request, namespace, `name: ${keep}\ndependencies:\n  - alpha=1.0\n`);
    for (let i = 0; i < OTHERS; i++) {
      const name = `other-${String(i).padStart(2, '0')}`;
      await submit(request, namespace, `name: ${name}\ndependencies: [conflict-a, conflict-b]\n`);
    }
    const section = sidebar.locator(`[data-namespace="${namespace}"]`);
    const rows = section.locator('[data-environment]');
    await expect(rows).toHaveCount(OTHERS + 1, { timeout: IDLE_REFRESH_MS + 8_000 });
    expect(Date.now() - started).toBeLessThan(IDLE_REFRESH_MS + 8_000);
    await page.screenshot({ path: 'test-results/sidebar-live-arrived.png' });

    // Once every build is over, the footer says when it refreshed (no stale "building").
    await expect(store.item(namespace, keep).locator('.jp-CondaStore-badge')).toHaveText('ready', {
      timeout: 90_000
    });
    await expect(section.locator('[data-state="failed"][data-environment]')).toHaveCount(OTHERS, {
      timeout: 60_000
    });
    await expect(footer).toHaveText(/^Updated just now$/, { timeout: 30_000 });

    // (c) The state filter, then the package filter (the server's answer), narrow the list.
    const stateFilter = sidebar.getByRole('combobox', { name: 'Filter by state' });
    await stateFilter.selectOption('failed');
    await expect(rows).toHaveCount(OTHERS);
    await expect(store.item(namespace, keep)).toHaveCount(0);
    await stateFilter.selectOption('ready');
    await expect(rows).toHaveCount(1);
    await expect(store.item(namespace, keep)).toHaveCount(1);
    await stateFilter.selectOption('all');
    await expect(rows).toHaveCount(OTHERS + 1);

    const packageFilter = sidebar.getByRole('searchbox', { name: /Filter by package/ });
    await packageFilter.fill('alpha');
    await expect(rows).toHaveCount(1);
    await expect(store.item(namespace, keep)).toHaveCount(1);

    // (d) Nothing matches: the empty state says so and offers to create, or to clear.
    await packageFilter.fill('no-such-package-anywhere');
    const empty = sidebar.locator('.jp-CondaStore-emptyState');
    await expect(empty).toContainText('No environment matches these filters.');
    await expect(empty.getByRole('button', { name: 'New environment…' })).toBeVisible();
    await empty.getByRole('button', { name: 'Clear filters' }).click();
    await expect(rows).toHaveCount(OTHERS + 1);

    // (b) The tree is one Tab stop; arrows move inside it and Enter opens.
    await sidebar.getByRole('searchbox', { name: 'Search environments' }).fill(namespace);
    await packageFilter.focus();
    await page.keyboard.press('Tab');
    const header = section.getByRole('treeitem', { name: new RegExp(`^${namespace},`) });
    await expect(header).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(store.item(namespace, keep)).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(store.item(namespace, 'other-00')).toBeFocused();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await expect(page.locator(`#${viewId(namespace, keep)}`)).toBeVisible();

    // Back in the list, Tab leaves it at once: its 32 items are a single stop.
    await store.item(namespace, keep).focus();
    await page.keyboard.press('Tab');
    await expect(sidebar.locator('[role="treeitem"]:focus')).toHaveCount(0);

    // Clean up: nothing of this namespace stays for the tests that follow.
    await expect.poll(() => activeBuilds(request, namespace), { timeout: 60_000 }).toBe(0);
    expect((await request.delete(`${API}/namespace/${namespace}/`)).ok()).toBeTruthy();
  });
});
