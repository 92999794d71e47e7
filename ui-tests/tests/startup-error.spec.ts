import { expect } from '@jupyterlab/galata';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

import { SIDEBAR_ID, test } from './helpers';

/**
 * A second, real JupyterLab whose conda-store configuration is wrong (a channel with a scheme
 * nobody serves): the extension cannot start, and the panel must say why, naming the setting,
 * rather than "the server extension is not available".
 */
const PORT = 8899;
const BAD_CHANNEL = 'ftp://nope.example/channel';

let server: ChildProcess | null = null;

test.describe('a configuration the extension cannot start with', () => {
  test.beforeAll(async () => {
    server = spawn(
      'python',
      [
        'run_test_server.py',
        `--ServerApp.port=${PORT}`,
        '--ServerApp.port_retries=0',
        `--CondaStore.channels=${BAD_CHANNEL}`
      ],
      { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' }
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const response = await fetch(`http://localhost:${PORT}/api`);
        if (response.ok) {
          break;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline || server.exitCode !== null) {
        throw new Error('the second JupyterLab did not start');
      }
      await new Promise(resolve => setTimeout(resolve, 500));
    }
  });

  test.afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise(resolve => server!.once('exit', resolve));
      server.kill('SIGTERM'); // run_test_server.py stops the server and removes its root
      await exited;
    }
  });

  test('the panel shows the start-up error, naming the setting and the value', async ({ page }) => {
    await page.goto(`http://localhost:${PORT}/lab`);
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    await page.locator(`.lm-TabBar-tab[data-id="${SIDEBAR_ID}"]`).click();
    const sidebar = page.locator(`#${SIDEBAR_ID}`);
    const alert = sidebar.getByRole('alert');
    await expect(alert).toContainText('could not start', { timeout: 30_000 });
    await expect(alert).toContainText('CondaStore.channels');
    await expect(alert).toContainText(BAD_CHANNEL);
    await expect(alert).not.toContainText('server extension is not available');
    await expect(sidebar.getByRole('button', { name: 'New environment' })).toBeDisabled();
    await page.screenshot({ path: 'test-results/sidebar-startup-error.png' });
  });
});
