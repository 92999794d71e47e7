import { expect } from '@jupyterlab/galata';

import { openSidebar, test } from './helpers';

test.describe('conda-store sidebar', () => {
  test('shows the version the server extension reports', async ({ page, request }) => {
    const response = await request.get('/conda-store/api/v1/');
    expect(response.ok()).toBeTruthy();
    const { data } = await response.json();

    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.jp-CondaStore-version')).toHaveText(data.version);
    await expect(sidebar.getByRole('alert')).toHaveCount(0);

    await page.screenshot({ path: 'test-results/sidebar-first-light.png' });
  });
});

test.describe('conda-store sidebar without the server extension', () => {
  test('tells the user how to enable it', async ({ page }) => {
    // A server without conda_store_jupyter answers 404 on its routes; answer that way here
    // rather than running a second server without the extension.
    await page.route(/\/conda-store\/api\/v1/, route =>
      route.fulfill({ status: 404, contentType: 'text/html', body: 'Not Found' })
    );
    await page.reload();
    const sidebar = await openSidebar(page);
    const alert = sidebar.getByRole('alert');
    await expect(alert).toContainText('server extension is not available');
    await expect(alert).toContainText('jupyter server extension list');
    await page.screenshot({ path: 'test-results/sidebar-extension-missing.png' });
  });
});
