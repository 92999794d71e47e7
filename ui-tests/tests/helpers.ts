import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

/** DOM id of the sidebar, as in src/tokens.ts. */
export const SIDEBAR_ID = 'jp-CondaStore-sidebar';

/** Open the conda-store sidebar through its tab in the left bar and return it. */
export async function openSidebar(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab(SIDEBAR_ID);
  const sidebar = page.locator(`#${SIDEBAR_ID}`);
  await sidebar.waitFor({ state: 'visible' });
  return sidebar;
}
