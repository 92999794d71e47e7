import { IJupyterLabPageFixture, expect, test as galataTest } from '@jupyterlab/galata';
import { APIRequestContext, Locator } from '@playwright/test';

/**
 * The time the browser's clock shows when a page loads. From there time flows as usual (timers,
 * polls and animations run in real time), but nothing the page renders from the clock depends on
 * the day or the hour of the run. Times that come from the server (when a build started) do, and
 * the screenshots mask them.
 */
export const CLOCK_START = new Date('2025-01-15T10:00:00Z');

/**
 * galata's `test`, with the clock installed on the browser context: before galata's `page`
 * fixture opens JupyterLab, so the application starts with the fake clock.
 */
export const test = galataTest.extend({
  context: async ({ context }, use) => {
    await context.clock.install({ time: CLOCK_START });
    await use(context);
  }
});

/** DOM id of the sidebar, as in src/tokens.ts. */
export const SIDEBAR_ID = 'jp-CondaStore-sidebar';

export const API = '/conda-store/api/v1';

/** A short suffix making names unique when a server is reused between runs. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36).slice(-5)}`;
}

/** DOM id of an environment's view, as viewId() in src/view/panel.tsx makes it. */
export function viewId(namespace: string, name: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, c => `_${c.charCodeAt(0).toString(16)}`);
  return `jp-CondaStore-env-${safe(namespace)}--${safe(name)}`;
}

/** Open the conda-store sidebar through its tab in the left bar and return it. */
export async function openSidebar(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab(SIDEBAR_ID);
  const sidebar = page.locator(`#${SIDEBAR_ID}`);
  await sidebar.waitFor({ state: 'visible' });
  return sidebar;
}

// -------------------------------------------------------------------------------------------
// The REST API, to set up and check state without the UI

export async function submit(
  request: APIRequestContext,
  namespace: string,
  specification: string
): Promise<number> {
  const response = await request.post(`${API}/specification/`, {
    data: { namespace, specification }
  });
  expect(response.ok(), await response.text()).toBeTruthy();
  return (await response.json()).data.build_id;
}

export async function buildStatus(request: APIRequestContext, id: number): Promise<string> {
  const response = await request.get(`${API}/build/${id}/`);
  return (await response.json()).data.status;
}

/** Wait for a build to reach a final status; returns it. */
export async function waitForBuild(
  request: APIRequestContext,
  id: number,
  timeout = 120_000
): Promise<string> {
  let status = '';
  await expect
    .poll(
      async () => {
        status = await buildStatus(request, id);
        return ['COMPLETED', 'FAILED', 'CANCELED'].includes(status);
      },
      { timeout, intervals: [250, 500, 1000] }
    )
    .toBe(true);
  return status;
}

export async function environmentExists(
  request: APIRequestContext,
  namespace: string,
  name: string
): Promise<boolean> {
  const response = await request.get(`${API}/environment/${namespace}/${name}/`);
  return response.ok();
}

// -------------------------------------------------------------------------------------------
// The page object

export class CondaStorePage {
  constructor(readonly page: IJupyterLabPageFixture) {}

  get sidebar(): Locator {
    return this.page.locator(`#${SIDEBAR_ID}`);
  }

  async openSidebar(): Promise<Locator> {
    return openSidebar(this.page);
  }

  /** The sidebar's item of an environment. */
  item(namespace: string, name: string): Locator {
    return this.sidebar.locator(`[data-environment="${namespace}/${name}"]`);
  }

  /** The main-area view of an environment. */
  view(namespace: string, name: string): EnvironmentView {
    return new EnvironmentView(this.page, this.page.locator(`#${viewId(namespace, name)}`));
  }

  async openEnvironment(namespace: string, name: string): Promise<EnvironmentView> {
    await this.openSidebar();
    await this.item(namespace, name).click(); // the tree item itself (role treeitem)
    const view = this.view(namespace, name);
    await view.root.waitFor({ state: 'visible' });
    return view;
  }

  /** Fill the New environment dialog and press Create. */
  async createEnvironment(options: {
    name: string;
    namespace?: string;
    source: 'python' | 'blank' | 'file';
    file?: { name: string; text: string };
    buildNow?: boolean;
  }): Promise<EnvironmentView> {
    await this.openSidebar();
    await this.sidebar.getByRole('button', { name: 'New environment', exact: true }).click();
    const dialog = this.page.locator('.jp-Dialog');
    await expect(dialog.getByText('New conda environment')).toBeVisible();
    // The dialog focuses its name field once it is attached: on a cold page that can come while
    // the fields are being filled, and the namespace's text then lands in the name (seen in CI
    // as "probe-jz9jrdefault"). Fill once it has, and again should a late focus have won.
    const nameField = dialog.getByRole('textbox', { name: 'Name' });
    const namespace = options.namespace ?? 'default';
    const namespaceField = dialog.getByRole('combobox', { name: 'Namespace' });
    await expect(nameField).toBeFocused();
    await expect(async () => {
      await nameField.fill(options.name);
      await namespaceField.fill(namespace);
      await expect(nameField).toHaveValue(options.name, { timeout: 1000 });
      await expect(namespaceField).toHaveValue(namespace, { timeout: 1000 });
    }).toPass({ timeout: 15_000 });
    const label = { python: 'Python with ipykernel', blank: 'Blank', file: 'A file' }[
      options.source
    ];
    await dialog.getByRole('radio', { name: new RegExp(`^${label}`) }).check();
    if (options.file) {
      await dialog.getByLabel('Specification file').setInputFiles({
        name: options.file.name,
        mimeType: 'text/yaml',
        buffer: Buffer.from(options.file.text)
      });
      await expect(dialog.getByText(`${options.file.name}:`)).toBeVisible();
    }
    if (options.buildNow) {
      await dialog.getByRole('checkbox', { name: /Build right away/ }).check();
    }
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect(dialog).toHaveCount(0);
    const view = this.view(namespace, options.name);
    await view.root.waitFor({ state: 'visible' });
    return view;
  }
}

export class EnvironmentView {
  constructor(
    readonly page: IJupyterLabPageFixture,
    readonly root: Locator
  ) {}

  tab(name: 'Specification' | 'Builds' | 'Log' | 'Packages' | 'Artifacts'): Locator {
    return this.root.getByRole('tab', { name: new RegExp(`^${name}`) });
  }

  async showTab(
    name: 'Specification' | 'Builds' | 'Log' | 'Packages' | 'Artifacts'
  ): Promise<Locator> {
    await this.tab(name).click();
    await expect(this.tab(name)).toHaveAttribute('aria-selected', 'true');
    return this.panel(name);
  }

  panel(name: string): Locator {
    return this.root.locator(`[role="tabpanel"][data-panel="${name.toLowerCase()}"]`);
  }

  /** The state badge in the header. */
  get badge(): Locator {
    return this.root.locator('.jp-CondaStore-viewTitle .jp-CondaStore-badge');
  }

  get editor(): Locator {
    return this.root.locator('.jp-CondaStore-yamlEditor .cm-content');
  }

  /** Replace the YAML editor's text (as a paste would: no auto-indent). */
  async setYaml(text: string): Promise<void> {
    await this.editor.click();
    await this.page.keyboard.press('Control+A');
    await this.page.keyboard.press('Delete');
    await this.page.keyboard.insertText(text);
  }

  get saveAndBuild(): Locator {
    return this.root.getByRole('button', { name: 'Save and build' });
  }

  get logLines(): Locator {
    return this.root.locator('.jp-CondaStore-logLine');
  }

  /** The row of a build in the Builds tab. */
  buildRow(id: number): Locator {
    return this.panel('builds').locator(`tr[data-build-id="${id}"]`);
  }

  get buildRows(): Locator {
    return this.panel('builds').locator('tbody tr');
  }
}

/** Wait until the environment's kernel spec runs `buildId`, then open a notebook on it from
 * the environment's view; returns the notebook panel and the view. */
export async function openNotebookOnBuild(
  page: IJupyterLabPageFixture,
  request: APIRequestContext,
  name: string,
  buildId: number
): Promise<{ notebook: Locator; view: EnvironmentView }> {
  const kernelName = `conda-store-default--${name}`;
  await expect
    .poll(
      async () => {
        const specs = await (await request.get('/api/kernelspecs')).json();
        return specs.kernelspecs[kernelName]?.spec?.metadata?.conda_store?.build_id;
      },
      { timeout: 30_000 }
    )
    .toBe(buildId);
  const view = await new CondaStorePage(page).openEnvironment('default', name);
  const openNotebook = view.root.getByRole('button', { name: 'Open notebook' });
  await expect(openNotebook).toBeEnabled({ timeout: 30_000 });
  await openNotebook.click();
  const notebook = page.locator('.jp-NotebookPanel:visible');
  await expect(notebook).toHaveCount(1);
  return { notebook, view };
}
