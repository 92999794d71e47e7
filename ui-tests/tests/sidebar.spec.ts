import { expect, test } from '@jupyterlab/galata';

import { openSidebar } from './helpers';

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
