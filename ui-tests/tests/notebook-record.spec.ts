import { expect } from '@jupyterlab/galata';

import { API, openNotebookOnBuild, submit, test, unique, waitForBuild } from './helpers';

test.describe('a notebook records the build it ran on', () => {
  test.setTimeout(180_000);

  test('a save writes the kernel’s build in the notebook, which says when it is no longer current', async ({
    page,
    request
  }) => {
    const name = unique('record');
    // alpha differs between the builds: a cell tells which build the kernel runs.
    const spec = (alpha: string) =>
      `name: ${name}\ndependencies:\n  - python\n  - ipykernel\n  - alpha=${alpha}\n`;
    const first = await submit(request, 'default', spec('1.0'));
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
    const second = await submit(request, 'default', spec('2.0'));
    expect(await waitForBuild(request, second)).toBe('COMPLETED');
    await expect(item).toBeVisible({ timeout: 30_000 });
    await expect(item).toContainText(`Recorded on build ${first} · current is ${second}`);

    // Compare: the environment's Builds tab compares the recorded build with the current one.
    await item.getByRole('button', { name: 'Compare' }).click();
    await expect(view.root.getByRole('region', { name: `Compare build ${first}` })).toBeVisible({
      timeout: 30_000
    });
    await page.notebook.activate(path.split('/').pop()!);
    await expect(notebook).toHaveCount(1);

    // Run on the recorded build: a kernel of the first build itself, with its alpha.
    const kernelName = () =>
      page.evaluate(
        () =>
          (
            window.jupyterapp.shell.currentWidget as unknown as {
              sessionContext: { session: { kernel: { name: string } | null } | null };
            }
          ).sessionContext.session?.kernel?.name
      );
    const installed = async (): Promise<string> => {
      await expect(page.locator('#jp-main-statusbar')).toContainText('| Idle', {
        timeout: 30_000
      });
      await page.notebook.setCell(
        0,
        'code',
        "import pathlib, sys; print(sorted(p.name for p in pathlib.Path(sys.prefix, 'share/csj-test').iterdir()))"
      );
      await page.notebook.runCell(0);
      return (await page.notebook.getCellTextOutput(0))?.join('\n') ?? '';
    };
    await item.getByRole('button', { name: `Run on build ${first}` }).click();
    await expect
      .poll(kernelName, { timeout: 60_000 })
      .toBe(`conda-store-default--${name}--build-${first}`);
    await expect(item).toContainText(
      `Running on the recorded build ${first} (current is ${second})`
    );
    expect(await installed()).toContain('alpha-1.0.txt');

    // Move to current: the environment's kernel, on the second build, with its alpha.
    await item.getByRole('button', { name: 'Move to current' }).click();
    await expect.poll(kernelName, { timeout: 30_000 }).toBe(`conda-store-default--${name}`);
    const output = await installed();
    expect(output).toContain('alpha-2.0.txt');
    expect(output).not.toContain('alpha-1.0.txt');
    // The next save records the second build: nothing more to say.
    await expect.poll(async () => (await saved())?.build_id, { timeout: 30_000 }).toBe(second);
    await expect(item).toBeHidden();
  });
});
