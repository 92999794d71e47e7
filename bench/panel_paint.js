/**
 * The browser half of bench/panel_paint.py: opens JupyterLab in Debian's Chromium (Playwright
 * from ui-tests/node_modules), clicks the conda-store tab and times, in the page's own clock,
 * from the click to the first rows painted; then a search and the expansion of a big namespace.
 * Prints one JSON object per run on stdout.
 *
 *   node bench/panel_paint.js URL RUNS SEARCH_WORD SEARCH_TARGET BIG_NAMESPACE
 */
const path = require('path');

const { chromium } = require(path.join(__dirname, '..', 'ui-tests', 'node_modules', 'playwright'));

const [url, runs, word, target, big] = process.argv.slice(2);
const SIDEBAR = '#jp-CondaStore-sidebar';

/**
 * In the page: resolve with the time (performance.now) of the paint after `selector` first
 * matches under the sidebar (two animation frames: the frame that draws it has gone out).
 */
function paintedAfter(selector) {
  return new Promise(resolve => {
    const done = () =>
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
    if (document.querySelector(selector)) {
      done();
      return;
    }
    const observer = new MutationObserver(() => {
      if (document.querySelector(selector)) {
        observer.disconnect();
        done();
      }
    });
    observer.observe(document.body, { childList: true, subtree: true });
  });
}

/** The time of the next trusted event of `type` on something matching `selector`. */
function nextEvent([type, selector]) {
  window.__benchEvent = new Promise(resolve => {
    const listener = event => {
      if (event.target.closest?.(selector)) {
        document.removeEventListener(type, listener, true);
        resolve(performance.now());
      }
    };
    document.addEventListener(type, listener, true);
  });
}

async function run(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const api = { requests: 0, bytes: 0, notModified: 0 };
  page.on('requestfinished', async request => {
    if (request.url().includes('/conda-store/api/v1/')) {
      const sizes = await request.sizes().catch(() => null);
      api.requests += 1;
      api.bytes += sizes?.responseBodySize ?? 0;
      // The page sees the cached 200 of a revalidation; the wire carried a 304 and no body
      // (every answer of the API has a body).
      api.notModified += sizes?.responseBodySize === 0 ? 1 : 0;
    }
  });
  await page.goto(`${url}/lab?reset`);
  const tab = page.locator(`.jp-SideBar [data-id="${SIDEBAR.slice(1)}"]`);
  await tab.waitFor({ state: 'visible', timeout: 120_000 });
  await page.waitForTimeout(1000); // let JupyterLab settle: the click is the only thing going on

  const result = {};
  // Opening the panel: from the click to the first item, and to the first environment.
  await page.evaluate(nextEvent, ['click', `[data-id="${SIDEBAR.slice(1)}"]`]);
  const firstItem = page.evaluate(paintedAfter, `${SIDEBAR} [role="treeitem"]`);
  const firstEnvironment = page.evaluate(paintedAfter, `${SIDEBAR} [data-environment]`);
  const before = { ...api };
  await tab.click();
  const clicked = await page.evaluate(() => window.__benchEvent);
  result.firstItem = (await firstItem) - clicked;
  result.firstEnvironment = (await firstEnvironment) - clicked;
  await page.waitForTimeout(1500); // the refresh's tail (builds) lands
  result.openRequests = api.requests - before.requests;
  result.openBytes = api.bytes - before.bytes;
  result.drawnItems = await page.locator(`${SIDEBAR} [role="treeitem"]`).count();
  result.namespaces = await page.locator(`${SIDEBAR} .jp-CondaStore-namespaceHeader`).count();

  // A refresh (the Refresh button, as a poll does): what it asks, and what comes back 304.
  const beforeRefresh = { ...api };
  await page.locator(`${SIDEBAR} button[aria-label="Refresh"]`).click();
  await page.waitForTimeout(1500);
  result.refreshRequests = api.requests - beforeRefresh.requests;
  result.refreshBytes = api.bytes - beforeRefresh.bytes;
  result.refresh304 = api.notModified - beforeRefresh.notModified;

  // A search for an environment in a collapsed namespace: from the typing to its row.
  const search = page.getByRole('searchbox', { name: 'Search environments' });
  await page.evaluate(nextEvent, ['input', '.jp-CondaStore-search']);
  const found = page.evaluate(paintedAfter, `${SIDEBAR} [data-environment="${target}"]`);
  await search.fill(word);
  const typed = await page.evaluate(() => window.__benchEvent);
  result.search = (await found) - typed;
  await search.fill('');
  await page.locator(`${SIDEBAR} [data-key="ns:${big}"]`).waitFor();

  // Expanding the big namespace: from the click to its first environment.
  const header = page.locator(`${SIDEBAR} [data-key="ns:${big}"]`);
  await page.evaluate(nextEvent, ['click', `[data-key="ns:${big}"]`]);
  const expanded = page.evaluate(paintedAfter, `${SIDEBAR} [data-environment^="${big}/"]`);
  await header.click();
  const opened = await page.evaluate(() => window.__benchEvent);
  result.expand = (await expanded) - opened;
  await page.waitForTimeout(300);
  result.drawnAfterExpand = await page.locator(`${SIDEBAR} [role="treeitem"]`).count();
  // The End key on the big namespace's header: the tree's last item, far below, is drawn.
  await header.focus();
  const last = await page.evaluate(
    ([sidebar, namespace]) => {
      const start = performance.now();
      const item = document.querySelector(`${sidebar} [data-key="ns:${namespace}"]`);
      item.dispatchEvent(new KeyboardEvent('keydown', { key: 'End', bubbles: true }));
      return new Promise(resolve =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() =>
            resolve({
              ms: performance.now() - start,
              focused: document.activeElement?.getAttribute('data-key') ?? null
            })
          )
        )
      );
    },
    [SIDEBAR, big]
  );
  result.endKey = last.ms;
  result.endFocused = last.focused;
  await context.close();
  return result;
}

(async () => {
  // The galata tests' Debian Chromium and its flags (ui-tests/playwright.config.js).
  const browser = await chromium.launch(
    require(path.join(__dirname, '..', 'ui-tests', 'playwright.config.js')).use.launchOptions
  );
  try {
    for (let i = 0; i < Number(runs); i++) {
      console.log(JSON.stringify(await run(browser)));
    }
  } finally {
    await browser.close();
  }
})().catch(error => {
  console.error(error);
  process.exit(1);
});
