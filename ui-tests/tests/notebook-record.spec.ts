import { expect } from '@jupyterlab/galata';

import { API, openNotebookOnBuild, submit, test, unique, waitForBuild } from './helpers';

test.describe('a notebook records the build it ran on', () => {
  test.setTimeout(180_000);

  test('a save writes the kernel’s build in the notebook, which says when it is no longer current', async ({
    page,
    request
  }) => {
    const name = unique('record');
    const spec = (extra: string) =>
      `name: ${name}\ndependencies:\n  - python\n  - ipykernel\n${extra}`;
    const first = await submit(request, 'default', spec(''));
    expect(await waitForBuild(request, first)).toBe('COMPLETED');
    // A notebook on the environment's kernel, which runs the first build.
    const { notebook, view } = await openNotebookOnBuild(page, request, name, first);
    await page.notebook.setCell(0, 'code', 'print("recorded")');
    await page.notebook.runCell(0);
    const path = await page.evaluate(
      () =>
        (window.jupyterapp.shell.currentWidget as unknown as { context: { path: string } }).context
          .path
    );

    // Saved once the record was fetched (a save does not wait for it): the file carries it.
    const saved = async () => {
      await page.notebook.save();
      const response = await request.get(`/api/contents/${encodeURI(path)}?content=1`);
      return (await response.json()).content?.metadata?.conda_store;
    };
    await expect.poll(async () => (await saved())?.build_id, { timeout: 30_000 }).toBe(first);
    const recorded = await saved();
    const record = await (await request.get(`${API}/build/${first}/record/`)).json();
    expect(recorded).toEqual(record.data);
    expect(recorded).toMatchObject({ namespace: 'default', environment: name });
    const item = notebook.locator('.jp-CondaStore-recordStatus');
    await expect(item).toBeHidden();

    // A second build becomes current: the notebook says it was recorded on the first.
    const second = await submit(request, 'default', spec('  - gamma\n'));
    expect(await waitForBuild(request, second)).toBe('COMPLETED');
    await expect(item).toBeVisible({ timeout: 30_000 });
    await expect(item).toContainText(`Recorded on build ${first} · current is ${second}`);

    // Compare: the environment's Builds tab compares the recorded build with the current one.
    await item.getByRole('button', { name: 'Compare' }).click();
    await expect(view.root.getByRole('region', { name: `Compare build ${first}` })).toBeVisible({
      timeout: 30_000
    });
  });
});
