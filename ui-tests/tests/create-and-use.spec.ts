import { expect } from '@jupyterlab/galata';

import { CondaStorePage, test, unique } from './helpers';

test.describe('create an environment and use it', () => {
  test.setTimeout(180_000);

  test('from YAML in the panel: live log, ready, a notebook with its kernel imports csj_probe', async ({
    page,
    request
  }) => {
    const store = new CondaStorePage(page);
    const name = unique('probe');

    // A blank environment opens as a draft; the YAML goes into the editor.
    const view = await store.createEnvironment({ name, source: 'blank' });
    await expect(view.badge).toHaveText('draft');
    await view.setYaml(`name: ${name}\ndependencies:\n  - python\n  - ipykernel\n  - csj-probe\n`);
    await expect(
      view.root.getByRole('alert', { name: 'Problems in the specification' })
    ).toHaveCount(0);
    await view.saveAndBuild.click();

    // The view follows the build on its Log tab; lines arrive while it builds.
    await expect(view.tab('Log')).toHaveAttribute('aria-selected', 'true');
    const log = view.panel('log');
    let linesWhileLive = 0;
    await expect
      .poll(
        async () => {
          // Lines are there while the build still runs: the log fills live, not at the end.
          const live = await log.getByText('Streaming live…').isVisible();
          linesWhileLive = await view.logLines.count();
          return live && linesWhileLive > 3;
        },
        { timeout: 60_000, intervals: [100] }
      )
      .toBe(true);
    await expect(view.logLines.filter({ hasText: 'solving for' })).toHaveCount(1);

    await expect(view.badge).toHaveText('ready', { timeout: 120_000 });
    await expect(view.logLines.filter({ hasText: 'build COMPLETED' })).toHaveCount(1);
    expect(await view.logLines.count()).toBeGreaterThan(linesWhileLive);
    await expect(store.item('default', name).locator('.jp-CondaStore-badge')).toHaveText('ready');

    // Use it: a notebook on the environment's kernel.
    const openNotebook = view.root.getByRole('button', { name: 'Open notebook' });
    await expect(openNotebook).toBeEnabled({ timeout: 30_000 });
    const kernelName = `conda-store-default--${name}`;
    await expect(view.root.locator(`[data-kernel="${kernelName}"]`)).toBeVisible();
    await openNotebook.click();

    await expect(page.locator('.jp-NotebookPanel:visible')).toHaveCount(1);
    // The notebook's session runs the environment's kernel.
    await expect
      .poll(
        async () => {
          const sessions = await (await request.get('/api/sessions')).json();
          return sessions.map((s: { kernel: { name: string } }) => s.kernel?.name);
        },
        { timeout: 30_000 }
      )
      .toContain(kernelName);
    await page.notebook.setCell(
      0,
      'code',
      'import csj_probe, sys\nprint(csj_probe.__file__)\nprint(sys.prefix)'
    );
    await page.notebook.runCell(0);
    const output = (await page.notebook.getCellTextOutput(0))?.join('\n') ?? '';
    expect(output).toContain('csj_probe');
    expect(output).toMatch(new RegExp(`/default/[0-9a-f]{8}-\\d+-\\d+-${name}`));
    await expect(
      page.locator('.jp-NotebookPanel:visible [data-mime-type="application/vnd.jupyter.stderr"]')
    ).toHaveCount(0);
    await expect(
      page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').first()
    ).not.toContainText('Error');
  });
});
