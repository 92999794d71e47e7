import { expect } from '@jupyterlab/galata';

import { API, CondaStorePage, buildStatus, submit, test, unique, waitForBuild } from './helpers';

test.describe('when builds do not go as planned', () => {
  test.setTimeout(120_000);

  test('cancel a running build of the large package and see CANCELED', async ({
    page,
    request
  }) => {
    const store = new CondaStorePage(page);
    const name = unique('big');
    // Uploaded as a file and built right away: the view opens on the live log.
    const view = await store.createEnvironment({
      name,
      source: 'file',
      file: { name: 'bigdata.yml', text: `name: ${name}\ndependencies:\n  - csj-bigdata\n` },
      buildNow: true
    });
    await expect(view.tab('Log')).toHaveAttribute('aria-selected', 'true');
    const log = view.panel('log');
    await expect(view.logLines.filter({ hasText: 'installing' })).toHaveCount(1, {
      timeout: 30_000
    });
    const cancel = log.getByRole('button', { name: 'Cancel build' });
    await cancel.click();

    await expect(log.locator('.jp-CondaStore-logHeader .jp-CondaStore-badge')).toHaveText(
      'canceled',
      {
        timeout: 30_000
      }
    );
    await expect(
      log.getByText(/was canceled\. The environment stays on its previous build/)
    ).toBeVisible();
    await expect(cancel).toHaveCount(0);
    await expect(view.badge).toHaveText('canceled');
    await expect(store.item('default', name).locator('.jp-CondaStore-badge')).toHaveText(
      'canceled'
    );

    await view.showTab('Builds');
    const row = view.buildRows.first();
    await expect(row).toHaveAttribute('data-status', 'CANCELED');
    const id = Number(await row.getAttribute('data-build-id'));
    expect(await buildStatus(request, id)).toBe('CANCELED');
  });

  test("an unsatisfiable specification shows the solver's message", async ({ page }) => {
    const store = new CondaStorePage(page);
    const name = unique('conflict');
    const view = await store.createEnvironment({ name, source: 'blank' });
    await view.setYaml(`name: ${name}\ndependencies:\n  - conflict-a\n  - conflict-b\n`);
    await view.saveAndBuild.click();

    const failure = view.root.getByRole('alert', { name: 'Why the build failed' });
    await expect(failure).toBeVisible({ timeout: 60_000 });
    // The solver's own words follow; the product's part names the step and the package.
    await expect(failure).toContainText('Failed at: solve failed for linux-64');
    await expect(failure).toContainText('conflict-base');
    await expect(view.root.locator('.jp-CondaStore-logLine[data-kind="failure"]')).toContainText(
      'solve failed for'
    );
    await expect(
      view.root
        .locator('.jp-CondaStore-logLine[data-kind="message"]', { hasText: 'conflict-a' })
        .first()
    ).toBeVisible();
    await expect(view.badge).toHaveText('failed');
    await expect(store.item('default', name).locator('.jp-CondaStore-badge')).toHaveText('failed');
    // The specification is kept for fixing.
    await view.showTab('Specification');
    await expect(view.editor).toContainText('conflict-b');
  });

  test('malformed YAML is reported before anything is submitted', async ({ page, request }) => {
    const posted: string[] = [];
    page.on('request', r => {
      if (r.method() === 'POST' && r.url().includes(`${API}/specification`)) {
        posted.push(r.url());
      }
    });
    const store = new CondaStorePage(page);
    const name = unique('typo');
    const view = await store.createEnvironment({ name, source: 'python' });
    await expect(view.editor).toContainText('ipykernel');
    await expect(view.saveAndBuild).toBeEnabled();

    await view.setYaml(`name: ${name}\ndependencies:\n  - python\n  numpy: [\n`);
    const problems = view.root.getByRole('alert', { name: 'Problems in the specification' });
    await expect(problems).toContainText('Invalid YAML');
    await expect(problems.getByRole('button', { name: /^Go to line \d+$/ })).toBeVisible();
    await expect(view.saveAndBuild).toBeDisabled();
    await expect(view.root.getByRole('radio', { name: 'Form' })).toBeDisabled();

    // A well-formed document with a field the server refuses is caught too.
    await view.setYaml(`name: ${name}\ndependencies: [python]\nchanels: [conda-forge]\n`);
    await expect(problems).toContainText("Unknown field 'chanels'");
    await expect(view.saveAndBuild).toBeDisabled();

    // Fixed, it may be submitted; nothing was sent meanwhile.
    await view.setYaml(`name: ${name}\ndependencies: [python]\n`);
    await expect(problems).toHaveCount(0);
    await expect(view.saveAndBuild).toBeEnabled();
    expect(posted).toEqual([]);
    expect((await request.get(`${API}/environment/default/${name}/`)).status()).toBe(404);
  });

  test('a refusal says which role is needed, where it happened', async ({ page, request }) => {
    const name = unique('refused');
    const first = await submit(request, 'default', `name: ${name}\ndependencies: [alpha=1.0]\n`);
    await waitForBuild(request, first);
    const second = await submit(request, 'default', `name: ${name}\ndependencies: [alpha=1.1]\n`);
    await waitForBuild(request, second);

    // This server lets everyone do everything: answer as one with roles would.
    const message = `alice may not environment update in default/${name}: this needs the developer role there`;
    await page.route(new RegExp(`${API}/environment/default/${name}/`), route =>
      route.request().method() === 'PUT'
        ? route.fulfill({
            status: 403,
            contentType: 'application/json',
            body: JSON.stringify({ status: 'error', message })
          })
        : route.continue()
    );
    const store = new CondaStorePage(page);
    const view = await store.openEnvironment('default', name);
    const builds = await view.showTab('Builds');
    await builds.getByRole('button', { name: `Make build ${first} current` }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: `Roll back to build ${first}` })
      .click();
    const alert = builds.getByRole('alert');
    await expect(alert).toContainText(`Could not make build ${first} current: ${message}.`);
    await expect(alert).toContainText('Ask an administrator of the namespace for that role.');
    await expect(view.buildRow(second)).toHaveAttribute('data-current', 'true');
  });
});
