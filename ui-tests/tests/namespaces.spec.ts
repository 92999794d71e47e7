import { expect } from '@jupyterlab/galata';

import { API, CondaStorePage, test, unique, viewId } from './helpers';

test.describe('namespaces, templates, consoles and deleting', () => {
  test.setTimeout(120_000);

  test('a new namespace gets a Python environment, a console on it, then it is deleted', async ({
    page,
    request
  }) => {
    const store = new CondaStorePage(page);
    const sidebar = await store.openSidebar();
    const namespace = unique('team');

    // New namespace, with the name checked as it is typed.
    await sidebar.getByRole('button', { name: 'New namespace' }).click();
    const dialog = page.locator('.jp-Dialog');
    const input = dialog.getByRole('textbox', { name: 'Name' });
    await input.fill('no spaces please');
    await expect(dialog.getByText(/may only contain letters, digits/)).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Create' })).toBeDisabled();
    await input.fill(namespace);
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect(dialog).toHaveCount(0);
    const section = sidebar.locator(`[data-namespace="${namespace}"]`);
    await expect(section.getByText('No environments yet.')).toBeVisible();

    // The empty namespace offers to create there (as its own + does): the dialog opens with the
    // namespace filled in.
    await expect(
      section.getByRole('button', { name: `New environment in ${namespace}` })
    ).toBeVisible();
    await section
      .getByRole('treeitem', { name: `No environments yet in ${namespace}: create one` })
      .click();
    await expect(dialog.getByRole('combobox', { name: 'Namespace' })).toHaveValue(namespace);
    await dialog.getByRole('textbox', { name: 'Name' }).fill('py');
    await expect(dialog.getByRole('radio', { name: /^Python with ipykernel/ })).toBeChecked();
    await dialog.getByRole('checkbox', { name: /Build right away/ }).check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    const view = store.view(namespace, 'py');
    await expect(view.tab('Log')).toHaveAttribute('aria-selected', 'true');
    await expect(view.badge).toHaveText('ready', { timeout: 90_000 });

    // Tabs are reachable with the arrow keys.
    await view.tab('Log').focus();
    await page.keyboard.press('ArrowRight');
    await expect(view.tab('Packages')).toBeFocused();
    await expect(view.tab('Packages')).toHaveAttribute('aria-selected', 'true');
    await expect(view.panel('packages').locator('tr[data-package="ipykernel"]')).toHaveCount(1);

    // A console on the environment's kernel.
    const kernelName = `conda-store-${namespace}--py`;
    const openConsole = view.root.getByRole('button', { name: 'Open console' });
    await expect(openConsole).toBeEnabled({ timeout: 30_000 });
    await openConsole.click();
    await expect(page.locator('.jp-ConsolePanel:visible')).toHaveCount(1);
    await expect
      .poll(
        async () => {
          const sessions = await (await request.get('/api/sessions')).json();
          return sessions
            .filter((s: { type: string }) => s.type === 'console')
            .map((s: { kernel: { name: string } }) => s.kernel?.name);
        },
        { timeout: 30_000 }
      )
      .toContain(kernelName);

    // Delete the environment, after a confirmation.
    await page.locator(`.lm-TabBar-tab[data-id="${viewId(namespace, 'py')}"]`).click();
    await view.root.getByRole('button', { name: 'Delete environment' }).click();
    await expect(dialog.getByText(`Delete ${namespace}/py?`)).toBeVisible();
    await dialog.getByRole('button', { name: 'Delete environment' }).click();
    await expect(view.root.getByText(/does not exist/)).toBeVisible();
    await expect(section.getByText('No environments yet.')).toBeVisible();
    expect((await request.get(`${API}/environment/${namespace}/py/`)).status()).toBe(404);
  });
});
