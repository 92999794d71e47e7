import { expect } from '@jupyterlab/galata';
import { Page } from '@playwright/test';

import { API, CondaStorePage, submit, test, unique, viewId, waitForBuild } from './helpers';

/** The main area's tab of an environment's view. */
function tabOf(page: Page, namespace: string, name: string) {
  return page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="${viewId(namespace, name)}"]`);
}

test.describe('the specification editor', () => {
  test.setTimeout(150_000);

  test('shows the build in use after a rollback, another build only on purpose', async ({
    page,
    request
  }) => {
    const name = unique('follow');
    const first = await submit(request, 'default', `name: ${name}\ndependencies:\n  - alpha=1.0\n`);
    expect(await waitForBuild(request, first)).toBe('COMPLETED');
    const second = await submit(
      request,
      'default',
      `name: ${name}\ndependencies:\n  - alpha=1.1\n`
    );
    expect(await waitForBuild(request, second)).toBe('COMPLETED');
    // Rolled back over the API: the newest build is not the one in use.
    const put = await request.put(`${API}/environment/default/${name}/`, {
      data: { build_id: first }
    });
    expect(put.ok()).toBeTruthy();

    const store = new CondaStorePage(page);
    const view = await store.openEnvironment('default', name);
    const banner = view.root.locator('.jp-CondaStore-specBanner');
    await expect(view.editor).toContainText('alpha=1.0');
    await expect(banner).toHaveCount(0);

    // Another build on purpose: the banner says so, and brings back the one in use.
    await view.root
      .getByRole('combobox', { name: 'Load the specification of a build' })
      .selectOption(String(second));
    await expect(view.editor).toContainText('alpha=1.1');
    await expect(banner).toHaveText(
      `Showing build ${second}'s specification; build ${first} is in use. Load the build in use`
    );
    await banner.getByRole('button', { name: 'Load the build in use' }).click();
    await expect(view.editor).toContainText('alpha=1.0');
    await expect(banner).toHaveCount(0);

    // Rolled forward in the panel: the editor follows.
    await view.showTab('Builds');
    await view.root.getByRole('button', { name: `Make build ${second} current` }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: new RegExp(`build ${second}`) })
      .click();
    await expect(view.buildRow(second)).toHaveAttribute('data-current', 'true');
    await view.showTab('Specification');
    await expect(view.editor).toContainText('alpha=1.1');
    await expect(banner).toHaveCount(0);

    // Rolled back over the API while the view is open: a refresh follows too.
    await request.put(`${API}/environment/default/${name}/`, { data: { build_id: first } });
    await view.root.getByRole('button', { name: 'Refresh' }).click();
    await expect(view.editor).toContainText('alpha=1.0');

    // Unbuilt edits: the tab is marked, closing asks, a kept draft comes back.
    const tab = tabOf(page, 'default', name);
    await expect(tab).not.toHaveClass(/jp-mod-dirty/);
    await view.setYaml(`name: ${name}\ndependencies:\n  - alpha=1.0\n  - beta\n`);
    await expect(tab).toHaveClass(/jp-mod-dirty/);
    const dialog = page.locator('.jp-Dialog');
    await tab.locator('.lm-TabBar-tabCloseIcon').click();
    await expect(dialog.getByText(`Discard changes to default/${name}?`)).toBeVisible();
    await dialog.getByRole('button', { name: 'Keep editing' }).click();
    await expect(view.root).toBeVisible();
    await tab.locator('.lm-TabBar-tabCloseIcon').click();
    await dialog.getByRole('button', { name: 'Keep as draft' }).click();
    await expect(view.root).toHaveCount(0);

    const reopened = await store.openEnvironment('default', name);
    await expect(reopened.editor).toContainText('- beta');
    await expect(tab).toHaveClass(/jp-mod-dirty/);
    await tab.locator('.lm-TabBar-tabCloseIcon').click();
    await dialog.getByRole('button', { name: 'Discard', exact: true }).click();
    await expect(reopened.root).toHaveCount(0);

    const clean = await store.openEnvironment('default', name);
    await expect(clean.editor).toContainText('alpha=1.0');
    await expect(clean.editor).not.toContainText('beta');
    await expect(tab).not.toHaveClass(/jp-mod-dirty/);
  });

  test('a new environment kept as a draft reopens as that draft', async ({ page }) => {
    const name = unique('draft');
    const store = new CondaStorePage(page);
    const view = await store.createEnvironment({ name, source: 'blank' });
    const tab = tabOf(page, 'default', name);
    await expect(tab).toHaveClass(/jp-mod-dirty/);
    await tab.locator('.lm-TabBar-tabCloseIcon').click();
    await page.locator('.jp-Dialog').getByRole('button', { name: 'Keep as draft' }).click();
    await expect(view.root).toHaveCount(0);

    await page.evaluate(
      args => window.jupyterapp.commands.execute('conda-store:open-environment', args),
      { namespace: 'default', name }
    );
    await expect(view.root).toBeVisible();
    await expect(view.root.locator('.jp-CondaStore-viewTitle')).toContainText('draft');
    await expect(view.editor).toContainText(`name: ${name}`);
  });

  test('Check marks unknown names with a fix, and unsatisfiable entries at their lines', async ({
    page
  }) => {
    const name = unique('check');
    const store = new CondaStorePage(page);
    const view = await store.createEnvironment({ name, source: 'blank' });
    const check = view.root.getByRole('button', { name: 'Check', exact: true });
    const marks = view.root.locator('.jp-CondaStore-yamlEditor .jp-CondaStore-problemMark');

    // Typing problems are marked as typed, on their own line.
    await view.setYaml(`name: ${name}\nfoo: 1\ndependencies: []\n`);
    await expect(marks).toHaveText(['foo: 1']);
    await expect(view.root.getByRole('button', { name: 'Go to line 2' })).toBeVisible();

    await view.setYaml(`name: ${name}\ndependencies:\n  - alpah>=1\n`);
    await check.click();
    await expect(marks).toHaveCount(1, { timeout: 60_000 });
    await expect(marks).toHaveText('alpah>=1');
    // On the entry's own line (line 3), not the one after it.
    await expect(
      view.root.locator('.jp-CondaStore-issue').getByRole('button', { name: 'Go to line 3' })
    ).toBeVisible();
    await view.root.getByRole('button', { name: 'Did you mean alpha?' }).click();
    await expect(view.editor).toContainText('- alpha>=1');
    await expect(marks).toHaveCount(0);

    await check.click();
    const wouldInstall = view.root.locator('.jp-CondaStore-wouldInstall');
    await expect(wouldInstall.locator('summary')).toHaveText(
      'Would install 1 package (1 requested)',
      { timeout: 60_000 }
    );

    await view.setYaml(`name: ${name}\ndependencies:\n  - conflict-a\n  - conflict-b\n`);
    await check.click();
    await expect(marks).toHaveCount(2, { timeout: 60_000 });
    await expect(marks.nth(0)).toHaveText('conflict-a');
    await expect(marks.nth(1)).toHaveText('conflict-b');
    // The form marks the same entries.
    await view.root.getByRole('radio', { name: 'Form' }).click();
    await expect(
      view.root.locator('.jp-CondaStore-form [data-row="package"][data-invalid]')
    ).toHaveCount(2);
    await view.root.getByRole('radio', { name: 'YAML' }).click();
    await expect(view.saveAndBuild).toBeEnabled();
  });

  test("a failed build's problems link to their lines", async ({ page, request }) => {
    const name = unique('unsat');
    const id = await submit(
      request,
      'default',
      `name: ${name}\ndependencies:\n  - alpha\n  - conflict-a\n  - conflict-b\n`
    );
    expect(await waitForBuild(request, id)).toBe('FAILED');
    const store = new CondaStorePage(page);
    const view = await store.openEnvironment('default', name);
    await expect(view.root.locator('.jp-CondaStore-kernelHint')).toContainText(
      `Build ${id} failed`
    );
    const log = await view.showTab('Log');
    const links = log.getByRole('button', { name: new RegExp(`^Show line \\d+ of build ${id}'s`) });
    await expect(links).toHaveCount(2);
    const label = (await links.last().getAttribute('aria-label'))!;
    const line = Number(/line (\d+)/.exec(label)![1]);
    await links.last().click();
    await expect(view.tab('Specification')).toHaveAttribute('aria-selected', 'true');
    await expect(view.editor).toBeFocused();
    // The cursor is on that line (the gutter's number), and that line is a conflicting entry.
    const cursorLine = () =>
      page.evaluate(() => {
        const node = document.getSelection()?.focusNode;
        const element = node instanceof Element ? node : node?.parentElement;
        const line = element?.closest('.cm-line');
        const lines = [...(line?.parentElement?.querySelectorAll(':scope > .cm-line') ?? [])];
        return { text: line?.textContent ?? null, number: lines.indexOf(line!) + 1 };
      });
    await expect
      .poll(cursorLine)
      .toEqual({ text: expect.stringMatching(/^\s+- conflict-[ab]$/), number: line });
  });
});
