import { IJupyterLabPageFixture, expect } from '@jupyterlab/galata';

import { CondaStorePage, test, unique } from './helpers';

/** Press Tab until the focused element matches `selector`; fails after `max` presses. */
async function tabTo(page: IJupyterLabPageFixture, selector: string, max = 20): Promise<number> {
  for (let presses = 1; presses <= max; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(s => !!document.activeElement?.matches(s), selector)) {
      return presses;
    }
  }
  throw new Error(`${selector} not reached with ${max} presses of Tab`);
}

const focusedIn = (page: IJupyterLabPageFixture, selector: string) =>
  page.evaluate(s => !!document.activeElement?.closest(s), selector);

test.describe('keyboard only', () => {
  test.setTimeout(180_000);

  test('create, build and open a notebook without the mouse', async ({ page, request }) => {
    const name = unique('keys');
    const store = new CondaStorePage(page);

    // The command palette, then the New environment dialog (Python with ipykernel by default).
    await page.keyboard.press('Control+Shift+C');
    await page.keyboard.type('New conda environment');
    await page.keyboard.press('Enter');
    const dialog = page.locator('.jp-Dialog');
    const nameField = dialog.getByRole('textbox', { name: 'Name' });
    await expect(nameField).toBeFocused();
    await page.keyboard.type(name);
    await expect(nameField).toHaveValue(name);
    await page.keyboard.press('Enter'); // Create
    await expect(dialog).toHaveCount(0);

    const view = store.view('default', name);
    await expect(view.root).toBeVisible();
    await expect(view.badge).toHaveText('draft');

    // Into the editor; Tab there indents, Esc then Tab leaves it (the hint under it says so).
    await tabTo(page, '.jp-CondaStore-yamlEditor .cm-content');
    await expect(view.root.locator('.jp-CondaStore-editorHint')).toContainText(
      'Esc then Tab to leave the editor'
    );
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await focusedIn(page, '.cm-content')).toBe(false);
    expect(await focusedIn(page, `#${await view.root.getAttribute('id')}`)).toBe(true);
    const text = await view.editor.textContent();
    expect(text).not.toMatch(/^\s/); // nothing was indented

    await expect(view.saveAndBuild).toBeEnabled({ timeout: 15_000 });
    await tabTo(page, '.jp-CondaStore-saveAndBuild', 6);
    await page.keyboard.press('Enter');

    // Focus stays in the view, on "Open notebook", usable once the build completes.
    const openNotebook = view.root.getByRole('button', { name: 'Open notebook' });
    await expect(openNotebook).toBeFocused();
    await expect(openNotebook).toBeEnabled({ timeout: 150_000 });
    await expect(openNotebook).toBeFocused();
    await page.keyboard.press('Enter');

    await expect(page.locator('.jp-NotebookPanel:visible')).toHaveCount(1);
    const kernelName = `conda-store-default--${name}`;
    await expect
      .poll(
        async () => {
          const sessions = await (await request.get('/api/sessions')).json();
          return sessions.map((s: { kernel: { name: string } }) => s.kernel?.name);
        },
        { timeout: 30_000 }
      )
      .toContain(kernelName);
  });
});
