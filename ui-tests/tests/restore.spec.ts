import { expect } from '@jupyterlab/galata';

import { API, CondaStorePage, submit, test, unique, waitForBuild } from './helpers';

test.describe('garbage collection and restore', () => {
  test.setTimeout(120_000);

  test('a collected build shows as collected; Restore brings it back', async ({
    page,
    request
  }) => {
    const name = unique('gc');
    const first = await submit(request, 'default', `name: ${name}\ndependencies:\n  - alpha=1.0\n`);
    expect(await waitForBuild(request, first)).toBe('COMPLETED');
    const second = await submit(
      request,
      'default',
      `name: ${name}\ndependencies:\n  - alpha=1.1\n`
    );
    expect(await waitForBuild(request, second)).toBe('COMPLETED');

    // The store's admin collects every build but the newest of each environment.
    const gc = await request.post(`${API}/gc/`, { data: { keep_builds: 1 } });
    expect(gc.ok(), await gc.text()).toBeTruthy();
    const report = (await gc.json()).data;
    expect(report.builds.map((b: { build_id: number }) => b.build_id)).toContain(first);

    const store = new CondaStorePage(page);
    const view = await store.openEnvironment('default', name);
    await view.showTab('Builds');
    const row = view.buildRow(first);
    await expect(row).toHaveAttribute('data-collected', 'true');
    await expect(row.locator('.jp-CondaStore-badge')).toHaveText('collected');
    await expect(view.buildRow(second)).toHaveAttribute('data-current', 'true');

    await row.getByRole('button', { name: 'Restore' }).click();
    await expect(row.locator('.jp-CondaStore-badge')).toHaveText('completed', {
      timeout: 60_000
    });
    await expect(row).not.toHaveAttribute('data-collected', 'true');
    await expect(view.buildRow(second)).toHaveAttribute('data-current', 'true');
    const restored = await (await request.get(`${API}/build/${first}/`)).json();
    expect(restored.data.collected_on).toBeNull();
  });
});
