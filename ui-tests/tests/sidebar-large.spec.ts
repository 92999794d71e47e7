import { expect } from '@jupyterlab/galata';
import { Route } from '@playwright/test';

import { SIDEBAR_ID, openSidebar, test } from './helpers';

/**
 * The sidebar on a large hub: 12,000 environments in 300 namespaces, answered by the page from
 * made-up data (the test server's store is small). The user's namespace opens; the others load
 * when expanded; search asks the server; the long tree is drawn virtually and the keys still
 * reach its end.
 */
const NAMESPACES = ['default', ...Array.from({ length: 299 }, (_, i) => `team-${pad(i)}`)];
const PER_NAMESPACE = 40;
const NEEDLE = { namespace: 'team-250', name: 'needle' };

function pad(n: number): string {
  return String(n).padStart(3, '0');
}

interface IEnv {
  id: number;
  namespace: string;
  name: string;
}

const ENVIRONMENTS: IEnv[] = NAMESPACES.flatMap((namespace, n) =>
  Array.from({ length: PER_NAMESPACE }, (_, i) => ({
    id: n * PER_NAMESPACE + i + 1,
    namespace,
    name: namespace === NEEDLE.namespace && i === 7 ? NEEDLE.name : `env-${pad(i)}`
  }))
);

function namespace(name: string) {
  return { id: NAMESPACES.indexOf(name) + 1, name, metadata_: {}, role_mappings: [] };
}

function environment(e: IEnv) {
  const build = {
    id: e.id,
    environment_id: e.id,
    specification: null,
    packages: null,
    status: 'COMPLETED',
    status_info: null,
    size: 0,
    scheduled_on: '2025-01-15T09:00:00',
    started_on: '2025-01-15T09:00:00',
    ended_on: '2025-01-15T09:01:00',
    build_artifacts: []
  };
  return {
    id: e.id,
    namespace: namespace(e.namespace),
    name: e.name,
    current_build_id: e.id,
    current_build: build,
    description: '',
    updated_on: '2025-01-15T09:01:00'
  };
}

/** A page of a list, as the API answers it. */
function page<T>(route: Route, items: T[], url: URL): Promise<void> {
  const size = Number(url.searchParams.get('size') ?? 100);
  const number = Number(url.searchParams.get('page') ?? 1);
  return route.fulfill({
    json: {
      status: 'ok',
      data: items.slice((number - 1) * size, number * size),
      page: number,
      size,
      count: items.length
    }
  });
}

test.describe('the sidebar on a large hub', () => {
  test('opens the user’s namespace, loads others when expanded, searches the server', async ({
    page: lab
  }) => {
    const asked: URL[] = [];
    await lab.route(
      /\/conda-store\/api\/v1\/(namespace|environment|build|permission)\/(\?|$)/,
      route => {
        const url = new URL(route.request().url());
        asked.push(url);
        const what = url.pathname.split('/').slice(-2)[0];
        const q = url.searchParams;
        switch (what) {
          case 'permission':
            return route.fulfill({
              json: { status: 'ok', data: { primary_namespace: 'default', username: 'me' } }
            });
          case 'namespace':
            return page(route, NAMESPACES.map(namespace), url);
          case 'build':
            return page(route, [], url);
          default: {
            const found = ENVIRONMENTS.filter(
              e =>
                (!q.get('namespace') || e.namespace === q.get('namespace')) &&
                (!q.get('search') || e.name.includes(q.get('search')!)) &&
                !q.get('status')
            );
            return page(route, found.map(environment), url);
          }
        }
      }
    );
    await lab.reload();
    const sidebar = await openSidebar(lab);
    const header = (name: string) => sidebar.locator(`[data-key="ns:${name}"]`);

    // The user's namespace is open; the others are closed and nothing was asked of them.
    await expect(header('default')).toHaveAttribute('aria-expanded', 'true');
    await expect(sidebar.locator('[data-environment="default/env-000"]')).toBeVisible();
    await expect(sidebar.locator('.jp-CondaStore-tree')).toHaveClass(/jp-mod-virtual/);
    // Far below the view, the other namespaces are not drawn yet.
    await expect(header('team-000')).toHaveCount(0);
    const environmentsOf = () =>
      asked
        .filter(u => u.pathname.endsWith('/environment/'))
        .map(u => u.searchParams.get('namespace'));
    expect(new Set(environmentsOf())).toEqual(new Set([null, 'default']));
    // The lists polled are revalidated through the browser's cache, not busted by a time stamp.
    const lists = asked.filter(u => !u.pathname.endsWith('/permission/'));
    expect(lists.every(u => !/[?&]\d{10,}(&|$)/.test(u.search))).toBe(true);
    await lab.screenshot({ path: 'test-results/sidebar-large-opened.png' });

    // Collapsed, the user's namespace makes room for the others, themselves collapsed.
    await header('default').click();
    await expect(header('default')).toHaveAttribute('aria-expanded', 'false');
    await expect(header('team-000')).toHaveAttribute('aria-expanded', 'false');
    await expect(header('team-000')).not.toContainText('40');

    // Expanding a namespace loads it.
    await header('team-001').click();
    await expect(header('team-001')).toHaveAttribute('aria-expanded', 'true');
    await expect(sidebar.locator('[data-environment="team-001/env-000"]')).toBeVisible();
    await expect(header('team-001').locator('.jp-CondaStore-count')).toHaveText('40');
    expect(environmentsOf()).toContain('team-001');
    await header('team-001').click();
    await expect(sidebar.locator('[data-environment^="team-001/"]')).toHaveCount(0);

    // Search finds an environment in a collapsed namespace, through the server.
    const search = sidebar.getByRole('searchbox', { name: 'Search environments' });
    await search.fill('needle');
    const needle = sidebar.locator(`[data-environment="${NEEDLE.namespace}/${NEEDLE.name}"]`);
    await expect(needle).toBeVisible();
    expect(asked.some(u => u.searchParams.get('search') === 'needle')).toBe(true);
    await expect(sidebar.locator('.jp-CondaStore-namespace')).toHaveCount(1);
    await lab.screenshot({ path: 'test-results/sidebar-large-search.png' });
    await search.fill('');

    // The tree is long and drawn in part; End still reaches its last item.
    await expect(header('team-298')).toHaveCount(0);
    await header('default').click(); // open again: the tree is long
    await header('default').focus();
    await lab.keyboard.press('End');
    await expect(header('team-298')).toBeFocused();
    await expect(header('team-298')).toBeInViewport();
    await lab.keyboard.press('Home');
    await expect(header('default')).toBeFocused();

    // Scrolled to the middle: the rows there are drawn, each 28 px, under their sticky header.
    await header('team-100').waitFor({ state: 'detached' });
    await sidebar.locator('.jp-CondaStore-sidebarBody').evaluate(body => {
      body.scrollTop = 130 * 28; // about team-089's header: 41 rows, then one per namespace
    });
    await expect(header('team-100')).toBeVisible();
    await header('team-100').click();
    const row = sidebar.locator('[data-environment="team-100/env-005"]');
    await expect(row).toBeVisible();
    expect((await row.boundingBox())?.height).toBe(28);
    expect((await header('team-100').boundingBox())?.height).toBe(28);
    await lab.screenshot({ path: 'test-results/sidebar-large-scrolled.png' });
    expect(await sidebar.locator('[role="treeitem"]').count()).toBeLessThan(150);
    await expect(lab.locator(`#${SIDEBAR_ID}`).getByRole('alert')).toHaveCount(0);
  });
});
