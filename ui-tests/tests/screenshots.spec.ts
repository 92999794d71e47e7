import { IJupyterLabPageFixture, expect } from '@jupyterlab/galata';
import { APIRequestContext, Locator } from '@playwright/test';

import { CondaStorePage, EnvironmentView, submit, test, waitForBuild } from './helpers';

/**
 * Snapshots of the sidebar and an environment view in the light and dark themes. A namespace
 * of its own keeps the content the same whatever else ran; ids, times, sizes and the test
 * channel's URL are masked. The clock starts at CLOCK_START (helpers.ts).
 */
const NAMESPACE = 'gallery';

const ENVIRONMENTS: Record<string, string> = {
  analysis: 'name: analysis\ndependencies:\n  - alpha>=1.1\n  - beta\n  - gamma=3.0\n',
  broken: 'name: broken\ndependencies:\n  - conflict-a\n  - conflict-b\n',
  plain: 'name: plain\ndependencies:\n  - gamma\n'
};

async function setUp(request: APIRequestContext): Promise<void> {
  // The same specification twice makes no second build: this is safe on a reused server.
  // One after the other: the server cannot create one new namespace from two requests at once.
  const builds: number[] = [];
  for (const spec of Object.values(ENVIRONMENTS)) {
    builds.push(await submit(request, NAMESPACE, spec));
  }
  for (const id of builds) {
    await waitForBuild(request, id);
  }
}

function volatile(page: IJupyterLabPageFixture): Locator[] {
  return [
    page.locator('.jp-CondaStore-volatile'),
    page.locator('.jp-CondaStore-buildId button'),
    // Build strings carry a hash of the generated test packages.
    page.locator('[data-panel="packages"] td[data-column="build"]'),
    page.locator('.jp-CondaStore-serverVersion'),
    // The test channel lives in the server's per-run directory: its file:// URL differs each run.
    page.locator('.jp-CondaStore-yamlEditor .cm-line', { hasText: 'file://' })
  ];
}

async function showGallery(store: CondaStorePage): Promise<Locator> {
  const sidebar = await store.openSidebar();
  const search = sidebar.getByRole('searchbox', { name: 'Search environments' });
  await search.fill(NAMESPACE);
  await search.blur();
  await expect(sidebar.locator('.jp-CondaStore-namespace')).toHaveCount(1);
  await expect(store.item(NAMESPACE, 'analysis').locator('.jp-CondaStore-badge')).toHaveText(
    'ready'
  );
  await expect(store.item(NAMESPACE, 'broken').locator('.jp-CondaStore-badge')).toHaveText(
    'failed'
  );
  await expect(store.item(NAMESPACE, 'plain').locator('.jp-CondaStore-badge')).toHaveText('ready');
  await expect(sidebar.getByText('Updated just now')).toBeVisible();
  // The namespace's disk usage (masked: its bytes vary) arrives after the lists.
  await expect(sidebar.locator('.jp-CondaStore-namespaceUsage')).toHaveCount(1);
  return sidebar;
}

async function showAnalysis(store: CondaStorePage): Promise<EnvironmentView> {
  const view = await store.openEnvironment(NAMESPACE, 'analysis');
  await expect(view.badge).toHaveText('ready');
  await expect(view.editor).toContainText('gamma=3.0');
  await expect(view.root.getByText('No kernel: add ipykernel')).toBeVisible();
  return view;
}

for (const theme of ['light', 'dark'] as const) {
  test.describe(`screenshots, ${theme} theme`, () => {
    test.use({ viewport: { width: 1280, height: 800 } });

    test(`sidebar and environment view (${theme})`, async ({ page, request }) => {
      await setUp(request);
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      const store = new CondaStorePage(page);
      const sidebar = await showGallery(store);
      await expect(sidebar).toHaveScreenshot(`sidebar-${theme}.png`, { mask: volatile(page) });

      const view = await showAnalysis(store);
      await expect(view.root).toHaveScreenshot(`environment-specification-${theme}.png`, {
        mask: volatile(page)
      });

      await view.showTab('Builds');
      await expect(view.buildRows).toHaveCount(1);
      await expect(view.root).toHaveScreenshot(`environment-builds-${theme}.png`, {
        mask: volatile(page)
      });

      const packages = await view.showTab('Packages');
      await expect(packages.locator('tr[data-package]')).toHaveCount(3);
      await expect(view.root).toHaveScreenshot(`environment-packages-${theme}.png`, {
        mask: volatile(page)
      });

      // Unbuilt edits: the tab's marker and the prompt on closing it.
      await view.showTab('Specification');
      await view.setYaml(ENVIRONMENTS.analysis + '  - delta\n');
      const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty');
      await expect(tab).toHaveCount(1);
      await tab.locator('.lm-TabBar-tabCloseIcon').click();
      const dialog = page.locator('.jp-Dialog-content');
      await expect(dialog).toBeVisible();
      await expect(dialog).toHaveScreenshot(`discard-dialog-${theme}.png`);
      await dialog.getByRole('button', { name: 'Discard', exact: true }).click();

      // Check, before building: the conflicting entries marked at their lines.
      const broken = await store.openEnvironment(NAMESPACE, 'broken');
      await broken.root.getByRole('button', { name: 'Check', exact: true }).click();
      await expect(broken.root.locator('.jp-CondaStore-problemMark')).toHaveCount(2, {
        timeout: 60_000
      });
      // The Specification tab alone: the header names the failed build, whose id depends on
      // what ran before.
      await expect(broken.root.locator('[data-panel="specification"]')).toHaveScreenshot(
        `environment-check-${theme}.png`,
        { mask: volatile(page) }
      );
      // The failed build's log: each complaint linked to its line.
      const log = await broken.showTab('Log');
      const problems = log.locator('.jp-CondaStore-failureProblems');
      await expect(problems.getByRole('button')).toHaveCount(2);
      await expect(problems).toHaveScreenshot(`failed-build-problems-${theme}.png`, {
        mask: volatile(page)
      });

      // Nothing matches: the empty state offers to create one.
      await store.openSidebar();
      await sidebar.getByLabel('Filter by package (exact name)').fill('no-such-package');
      await expect(sidebar.getByRole('button', { name: 'Clear filters' })).toBeVisible();
      await expect(sidebar).toHaveScreenshot(`sidebar-empty-${theme}.png`, {
        mask: volatile(page)
      });
    });
  });
}
