import { expect } from '@jupyterlab/galata';

import { CondaStorePage, submit, test, unique, waitForBuild } from './helpers';

test.describe('copy, rename, export and import', () => {
  test.setTimeout(240_000);

  test('an environment is copied, the copy renamed, then exported and imported elsewhere', async ({
    page,
    request
  }) => {
    const name = unique('xfer');
    const buildId = await submit(
      request,
      'default',
      `name: ${name}\ndependencies:\n  - alpha=1.0\n`
    );
    expect(await waitForBuild(request, buildId)).toBe('COMPLETED');

    const store = new CondaStorePage(page);
    const original = await store.openEnvironment('default', name);
    await expect(original.badge).toHaveText('ready', { timeout: 30_000 });
    const dialog = page.locator('.jp-Dialog');

    // Copy…: the same namespace and `<name>-copy` are offered; the copy's view opens.
    await original.root.getByRole('button', { name: 'Copy…' }).click();
    await expect(dialog.getByText(`Copy default/${name}`)).toBeVisible();
    await expect(dialog.getByRole('textbox', { name: 'Name' })).toHaveValue(`${name}-copy`);
    await expect(dialog.getByRole('combobox', { name: 'Namespace' })).toHaveValue('default');
    await expect(dialog.getByRole('button', { name: 'Copy', exact: true })).toBeEnabled();
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    const copy = store.view('default', `${name}-copy`);
    await expect(copy.root).toBeVisible();
    // Its current build is restored from the lock file, then it is ready.
    await expect(copy.badge).toHaveText('ready', { timeout: 120_000 });

    // Rename…: a name that exists is refused; a new one renames, and the view follows.
    await copy.root.getByRole('button', { name: 'Rename…' }).click();
    const nameField = dialog.getByRole('textbox', { name: 'Name' });
    await expect(nameField).toHaveValue(`${name}-copy`);
    await nameField.fill(name);
    await expect(dialog.getByText(`default/${name} already exists`)).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Rename', exact: true })).toBeDisabled();
    await nameField.fill(`${name}-twin`);
    await expect(dialog.getByRole('button', { name: 'Rename', exact: true })).toBeEnabled();
    await dialog.getByRole('button', { name: 'Rename', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    await expect(store.view('default', `${name}-twin`).root).toBeVisible();
    await expect(copy.root).toHaveCount(0);
    await store.openSidebar();
    await expect(store.item('default', `${name}-twin`)).toBeVisible();
    await expect(store.item('default', `${name}-copy`)).toHaveCount(0);

    // Export: a download named after the environment.
    await store.item('default', name).click();
    await expect(original.root).toBeVisible();
    const downloading = page.waitForEvent('download');
    await original.root.getByRole('button', { name: 'Export' }).click();
    const download = await downloading;
    const fileName = `default-${name}.conda-store.tar.gz`;
    expect(download.suggestedFilename()).toBe(fileName);
    const archive = test.info().outputPath(fileName);
    await download.saveAs(archive);

    // Import it into another namespace, from the sidebar: the imported environment opens.
    await store.sidebar.getByRole('button', { name: 'Import environments…' }).click();
    await expect(dialog.getByText('Import environments')).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Import', exact: true })).toBeDisabled();
    await dialog.getByLabel('Archive').setInputFiles(archive);
    await dialog.getByRole('combobox', { name: 'Namespace' }).fill('imported');
    await expect(dialog.getByRole('button', { name: 'Import', exact: true })).toBeEnabled();
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    const imported = store.view('imported', name);
    await expect(imported.root).toBeVisible();
    await expect(store.item('imported', name)).toBeVisible();
    await expect(store.item('imported', name)).toHaveAttribute('data-state', 'ready', {
      timeout: 120_000
    });
    await expect(imported.badge).toHaveText('ready');
  });
});
