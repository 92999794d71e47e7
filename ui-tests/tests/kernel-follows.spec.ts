import { expect } from '@jupyterlab/galata';

import { API, openNotebookOnBuild, submit, test, unique, waitForBuild } from './helpers';

test.describe('a kernel follows its environment', () => {
  test.setTimeout(90_000);

  test('a notebook on an older build says so and restarts on the current build', async ({
    page,
    request
  }) => {
    const name = unique('follow');
    const spec = (extra: string) =>
      `name: ${name}\ndependencies:\n  - python\n  - ipykernel\n${extra}`;
    const first = await submit(request, 'default', spec(''));
    expect(await waitForBuild(request, first)).toBe('COMPLETED');
    const second = await submit(request, 'default', spec('  - gamma\n'));
    expect(await waitForBuild(request, second)).toBe('COMPLETED');
    // A notebook on the environment's kernel, which runs the current build (the second).
    const { notebook } = await openNotebookOnBuild(page, request, name, second);
    const prefix = async (): Promise<string> => {
      await page.notebook.setCell(0, 'code', 'import sys; print(sys.prefix)');
      await page.notebook.runCell(0);
      return (await page.notebook.getCellTextOutput(0))?.join('\n') ?? '';
    };
    expect(await prefix()).toMatch(new RegExp(`/default/[0-9a-f]{8}-\\d+-${second}-${name}`));
    const item = notebook.locator('.jp-CondaStore-kernelStatus');
    await expect(item).toBeHidden();

    // The first build made current behind the notebook's back: the bar above its cells says so.
    const response = await request.put(`${API}/environment/default/${name}/`, {
      data: { build_id: first }
    });
    expect(response.ok(), await response.text()).toBeTruthy();
    await expect(item).toBeVisible({ timeout: 20_000 });
    await expect(item).toContainText(
      `Kernel on build ${second} (environment now at build ${first})`
    );

    // Restart from the bar: the kernel runs the first build, and the item goes away.
    await item.getByRole('button', { name: `Restart on build ${first}` }).click();
    await expect(item).toBeHidden();
    const described = async () => {
      const kernels = await (await request.get(`${API}/kernels/`)).json();
      return kernels.data.filter((k: { environment: string }) => k.environment === name);
    };
    await expect
      .poll(described, { timeout: 30_000 })
      .toMatchObject([{ build_id: first, current_build_id: first, stale: false }]);
    await expect(item).toBeHidden();
    // The notebook is connected to the restarted kernel again: ready for the next cell.
    const status = page.locator('#jp-main-statusbar');
    await expect(status).toContainText('| Idle', { timeout: 30_000 });
    expect(await prefix()).toMatch(new RegExp(`/default/[0-9a-f]{8}-\\d+-${first}-${name}`));
    await expect(item).toBeHidden();
  });
});
