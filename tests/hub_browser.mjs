// A hub user in a real browser (Debian's Chromium through the Playwright of ui-tests/), run by
// tests/test_hub.py: log in on the hub's own login page, land in JupyterLab (the hub spawns
// the user's server), create an environment in the user's namespace from the conda-store panel,
// build it, open a notebook on its kernel and run a cell; then, with the same browser, call the
// central service's API as the browser does (its OAuth cookie, with and without XSRF).
//
//   node tests/hub_browser.mjs HUB_URL USER NAME OUT_DIR
//
// Prints one JSON line of what it saw; screenshots go to OUT_DIR.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'ui-tests', 'package.json'));
const { chromium } = require('playwright');

const [hubUrl, user, name, outDir] = process.argv.slice(2);
const seen = {};
// The galata tests' Debian Chromium and its flags.
const browser = await chromium.launch(require('./playwright.config.js').use.launchOptions);
const TIMEOUT = 120_000;

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);

  // The hub's login page (DummyAuthenticator takes any password), then the user's JupyterLab.
  await page.goto(`${hubUrl}/hub/login`);
  await page.fill('#username_input', user);
  await page.fill('#password_input', 'any password');
  await page.click('#login_submit');
  await page.waitForURL(new RegExp(`/user/${user}/lab`), { timeout: TIMEOUT });
  await page.locator('#jp-main-dock-panel').waitFor();

  // The panel, with no second login: create `name` in the user's namespace and build it.
  await page.locator('li[data-id="jp-CondaStore-sidebar"]').click();
  const sidebar = page.locator('#jp-CondaStore-sidebar');
  await sidebar.waitFor({ state: 'visible' });
  await sidebar.getByRole('button', { name: 'New environment', exact: true }).click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByText('New conda environment').waitFor();
  const nameField = dialog.getByRole('textbox', { name: 'Name' });
  const namespaceField = dialog.getByRole('combobox', { name: 'Namespace' });
  await nameField.waitFor();
  // Filled until both hold (the dialog focuses its name field once attached).
  for (let attempt = 0; attempt < 20; attempt++) {
    await nameField.fill(name);
    await namespaceField.fill(user);
    if ((await nameField.inputValue()) === name && (await namespaceField.inputValue()) === user) {
      break;
    }
    await page.waitForTimeout(250);
  }
  await dialog.getByRole('radio', { name: /^Blank/ }).check();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await dialog.waitFor({ state: 'detached' });
  const view = page.locator('.jp-CondaStore-view:visible');
  const editor = view.locator('.jp-CondaStore-yamlEditor .cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(
    `name: ${name}\ndependencies:\n  - python\n  - ipykernel\n  - csj-probe\n`
  );
  await view.getByRole('button', { name: /^Save and build/ }).click();
  const badge = view.locator('.jp-CondaStore-viewTitle .jp-CondaStore-badge');
  await badge.filter({ hasText: /^ready$/ }).waitFor({ timeout: TIMEOUT });
  seen.badge = await badge.textContent();
  const item = sidebar.locator(`[data-environment="${user}/${name}"] .jp-CondaStore-badge`);
  await item.filter({ hasText: /^ready$/ }).waitFor({ timeout: 30_000 });
  seen.sidebarItem = await item.textContent();
  seen.namespaces = await sidebar.locator('.jp-CondaStore-namespace').allTextContents();

  // Its kernel (from the central store, in this server) and a notebook on it.
  const openNotebook = view.getByRole('button', { name: 'Open notebook' });
  await openNotebook.waitFor();
  for (let i = 0; i < 100 && !(await openNotebook.isEnabled()); i++) {
    await page.waitForTimeout(100);
  }
  await openNotebook.click();
  const notebook = page.locator('.jp-NotebookPanel:visible');
  await notebook.waitFor();
  // Once its kernel is up (a cell run before the session connects may be dropped).
  await page
    .locator('.jp-StatusBar-Widget', { hasText: `${name} (${user}) | Idle` })
    .waitFor({ timeout: TIMEOUT });
  const cell = notebook.locator('.jp-Cell .cm-content').first();
  await cell.click();
  await page.keyboard.insertText('import csj_probe, sys\nprint(sys.prefix)');
  await page.keyboard.press('Shift+Enter');
  const output = notebook.locator('.jp-OutputArea-output').first();
  await output.waitFor({ timeout: TIMEOUT });
  seen.output = (await output.textContent()).trim();
  seen.kernel = (await notebook.locator('.jp-KernelName').first().textContent()).trim();
  await page.screenshot({ path: path.join(outDir, 'hub-lab.png') });

  // The central service from the browser: its page runs its OAuth (the hub's login, no
  // second one) and leaves its cookie and its XSRF cookie; from that page, API calls go with
  // the cookie, and a write needs the XSRF token sent back.
  const home = await page.goto(`${hubUrl}/services/conda-store/`);
  seen.serviceHome = { status: home.status(), url: page.url() };
  seen.serviceUser = await page.locator('#username').textContent();
  await page.screenshot({ path: path.join(outDir, 'hub-service.png') });
  const api = `${hubUrl}/services/conda-store/conda-store/api/v1`;
  const call = (method, url, withXsrf) =>
    page.evaluate(
      async ({ method, url, withXsrf, user }) => {
        const xsrf = document.cookie
          .split('; ')
          .find(c => c.startsWith('_xsrf='))
          ?.slice('_xsrf='.length);
        const headers = { 'Content-Type': 'application/json' };
        if (withXsrf && xsrf) {
          headers['X-XSRFToken'] = decodeURIComponent(xsrf);
        }
        const response = await fetch(url, {
          method,
          headers,
          body:
            method === 'GET'
              ? undefined
              : JSON.stringify({ other_namespace: `nobody-${withXsrf}`, role: 'viewer' })
        });
        const text = await response.text();
        return { status: response.status, xsrfCookie: !!xsrf, body: text.slice(0, 300), user };
      },
      { method, url, withXsrf, user }
    );
  seen.readWithoutXsrf = await call('GET', `${api}/permission/`, false);
  seen.servicePermission = await call('GET', `${api}/permission/`, true);
  seen.documentCookies = await page.evaluate(() =>
    document.cookie.split('; ').map(c => c.split('=')[0])
  );
  const write = withXsrf => call('POST', `${api}/namespace/${user}/role/`, withXsrf);
  seen.writeWithoutXsrf = await write(false);
  seen.writeWithXsrf = await write(true);
} catch (error) {
  seen.error = String(error?.stack ?? error);
  try {
    const pages = browser.contexts().flatMap(c => c.pages());
    if (pages[0]) {
      await pages[0].screenshot({ path: path.join(outDir, 'hub-failure.png') });
    }
  } catch {
    // no screenshot, the error says enough
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
