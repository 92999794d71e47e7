import { expect } from '@jupyterlab/galata';

import { API, CondaStorePage, submit, test, unique, waitForBuild } from './helpers';

test.describe('edit in the form view and roll back', () => {
  test.setTimeout(120_000);

  test('form edit builds again; rolling back moves the badge, history and packages', async ({
    page,
    request
  }) => {
    const name = unique('roll');
    const first = await submit(request, 'default', `name: ${name}\ndependencies:\n  - alpha=1.0\n`);
    expect(await waitForBuild(request, first)).toBe('COMPLETED');

    const store = new CondaStorePage(page);
    const view = await store.openEnvironment('default', name);
    await expect(view.badge).toHaveText('ready');
    await expect(view.editor).toContainText('alpha=1.0');

    // The form shows the same specification.
    await view.root.getByRole('radio', { name: 'Form' }).click();
    const form = view.panel('specification').locator('.jp-CondaStore-form');
    await expect(form.getByRole('combobox', { name: 'Package 1 name' })).toHaveValue('alpha');
    await expect(form.getByRole('textbox', { name: 'Package 1 version' })).toHaveValue('=1.0');

    // Loosen alpha and add beta, picked from the channel's package names.
    await form.getByRole('textbox', { name: 'Package 1 version' }).fill('>=1.1,<2');
    await form.getByRole('button', { name: 'Add package' }).click();
    const newName = form.getByRole('combobox', { name: 'Package 2 name' });
    await expect(newName).toBeFocused();
    await newName.pressSequentially('be');
    await expect(form.locator('datalist option[value="beta"]')).toHaveCount(1);
    await newName.fill('beta');

    // The YAML follows the form.
    await view.root.getByRole('radio', { name: 'YAML' }).click();
    await expect(view.editor).toContainText('alpha>=1.1,<2');
    await expect(view.editor).toContainText('- beta');
    await view.saveAndBuild.click();

    await expect(view.tab('Log')).toHaveAttribute('aria-selected', 'true');
    await expect(view.logLines.filter({ hasText: 'build COMPLETED' })).toHaveCount(1, {
      timeout: 60_000
    });
    await expect(view.badge).toHaveText('ready');

    // History: two builds, the new one current.
    await view.showTab('Builds');
    await expect(view.buildRows).toHaveCount(2);
    const second = Number(await view.buildRows.first().getAttribute('data-build-id'));
    expect(second).toBeGreaterThan(first);
    await expect(view.buildRow(second)).toHaveAttribute('data-current', 'true');
    await expect(view.buildRow(first)).not.toHaveAttribute('data-current', 'true');

    const packages = await view.showTab('Packages');
    await expect(packages.locator('tr[data-package="alpha"] [data-column="version"]')).toHaveText(
      '1.1'
    );
    await expect(packages.locator('tr[data-package="beta"]')).toHaveCount(1);
    // What the specification asked for, next to what was installed.
    const requested = packages.locator('[data-section="requested"]');
    await expect(
      requested.locator('tr[data-package="alpha"] [data-column="requested"]')
    ).toHaveText('alpha>=1.1,<2');
    await expect(requested.locator('tr[data-package="beta"] [data-column="requested"]')).toHaveText(
      'beta'
    );

    // Roll back: the confirmation says what changes.
    await view.showTab('Builds');
    await view.root.getByRole('button', { name: `Make build ${first} current` }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByText(`Roll back to build ${first}?`)).toBeVisible();
    await expect(dialog).toContainText(`switches from build ${second} to build ${first}`);
    await expect(dialog.locator('tr[data-change="changed"]', { hasText: 'alpha' })).toContainText(
      '1.1'
    );
    await expect(dialog.locator('tr[data-change="removed"]', { hasText: 'beta' })).toHaveCount(1);
    await dialog.getByRole('button', { name: `Roll back to build ${first}` }).click();
    await expect(dialog).toHaveCount(0);

    // Badge, history and packages follow.
    await expect(view.buildRow(first)).toHaveAttribute('data-current', 'true');
    await expect(view.buildRow(second)).not.toHaveAttribute('data-current', 'true');
    await expect(view.badge).toHaveText('ready');
    await expect(view.root.locator('.jp-CondaStore-viewDetail')).toContainText(
      `build ${first} is in use`
    );
    await expect(store.item('default', name).locator('.jp-CondaStore-badge')).toHaveText('ready');
    const environment = await (await request.get(`${API}/environment/default/${name}/`)).json();
    expect(environment.data.current_build_id).toBe(first);

    await view.showTab('Packages');
    await expect(packages.locator('tr[data-package="alpha"] [data-column="version"]')).toHaveText(
      '1.0'
    );
    await expect(packages.locator('tr[data-package="beta"]')).toHaveCount(0);
    await expect(packages.getByRole('status')).toContainText(`1 package in build ${first}`);
  });
});
