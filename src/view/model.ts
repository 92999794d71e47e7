import { KernelSpec } from '@jupyterlab/services';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

import { DraftStore } from '../drafts';
import { EnvironmentKernelModel, IEnvironmentKernel } from '../kernels';
import { entryOf } from '../model';
import { BuildStatus, IBuild, IBuildDiff, IEnvironment, IPackage, isActive } from '../models';
import { PollingModel, frequencyOf } from '../poll';
import { CondaStoreError } from '../request';
import { Resource } from '../resource';
import { ICondaStoreAPI, IEnvironmentEntry, IEnvironmentsModel } from '../tokens';
import { BuildLog } from './buildlog';
import { BuildComparison } from './comparison';
import { IDraft, SpecificationEdit } from './specedit';

export type { IDraft } from './specedit';

export type ViewTab = 'specification' | 'builds' | 'log' | 'packages' | 'artifacts';

export const TABS: Array<{ id: ViewTab; label: string }> = [
  { id: 'specification', label: 'Specification' },
  { id: 'builds', label: 'Builds' },
  { id: 'log', label: 'Log' },
  { id: 'packages', label: 'Packages' },
  { id: 'artifacts', label: 'Artifacts' }
];

export interface IViewModelOptions {
  api: ICondaStoreAPI;
  namespace: string;
  name: string;
  /** A specification to start from, for an environment that does not exist yet. */
  draft?: IDraft;
  /** Where unbuilt edits are kept (restored when the view opens again). */
  drafts?: DraftStore | null;
  environments?: IEnvironmentsModel | null;
  kernelspecs?: KernelSpec.IManager | null;
  /** Milliseconds between refreshes while a build runs. */
  interval?: number;
  /** The panel's settings, to take `refreshInterval` from (now and as it changes). */
  settings?: ISettingRegistry.ISettings | null;
}

/**
 * Everything one environment view shows and does: the environment, its builds, the selected
 * build, the specification being edited, the environment's kernel. Refreshes itself while a
 * build of it runs and the view is visible; quiet otherwise.
 */
export class EnvironmentViewModel extends PollingModel {
  constructor(options: IViewModelOptions) {
    const { namespace, name } = options;
    super({
      name: `@conda-store-jupyter/labextension:view:${namespace}/${name}`,
      interval: options.interval,
      max: 60 * 1000,
      settings: options.settings,
      // Never refreshed when idle: the environments model notices changes (_onEnvironmentsChanged).
      frequency: settings => ({ interval: frequencyOf(settings).interval })
    });
    this.api = options.api;
    this.drafts = options.drafts ?? null;
    this.namespace = namespace;
    this.name = name;
    this._environments = options.environments ?? null;
    this.comparison = new BuildComparison(this.api, this);
    this.log = new BuildLog(this.api);
    this._kernel = new EnvironmentKernelModel(options.kernelspecs ?? null, namespace, name);
    this.spec = new SpecificationEdit({
      api: this.api,
      namespace,
      name,
      drafts: this.drafts,
      draft: options.draft,
      onChange: () => this.emitChanged()
    });
    if (options.draft) {
      this._draft = true;
      this._tab = 'specification';
    }
    this._environments?.changed.connect(this._onEnvironmentsChanged, this);
    this._kernel.changed.connect(() => this.emitChanged(), this);
    this.log.statusReported.connect(this._onLogStatus, this);
    this.changed.connect(this._follow, this);
  }

  readonly api: ICondaStoreAPI;
  readonly drafts: DraftStore | null;
  readonly namespace: string;
  readonly name: string;
  /** The specification being edited (and its stored draft). */
  readonly spec: SpecificationEdit;

  /** The packages of the selected build (fetched again when its status changes). */
  readonly packages = new Resource<IPackage[]>();
  /** The log of the selected build, streamed while the view is visible. */
  readonly log: BuildLog;
  /** The builds compared in the Builds tab and their differences. */
  readonly comparison: BuildComparison;
  /** The server's default channels, once `loadChannels()` asked for them. */
  readonly channels = new Resource<string[]>();

  // -- state -------------------------------------------------------------------------------

  get environment(): IEnvironment | null {
    return this._environment;
  }

  get builds(): ReadonlyArray<IBuild> {
    return this._builds;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  /** The last refresh failed (the view shows it; polling retries). */
  get loadError(): Error | null {
    return this._loadError;
  }

  /** True for an environment that does not exist yet (a draft from the create dialog). */
  get isDraft(): boolean {
    return this._draft;
  }

  /** True when the environment was deleted (or never existed). */
  get isMissing(): boolean {
    return this._missing;
  }

  get entry(): IEnvironmentEntry | null {
    if (!this._environment) {
      return null;
    }
    const active = this._builds.filter(b => isActive(b.status));
    const running = active.find(b => b.status === 'BUILDING') ?? active[0];
    return entryOf(this._environment, running, this._builds[0]);
  }

  get currentBuildId(): number | null {
    return this._environment?.current_build_id ?? null;
  }

  /** The current build when it is usable (completed): what kernels run on. */
  get usableBuildId(): number | null {
    const current = this._environment?.current_build;
    return current && current.status === 'COMPLETED' ? current.id : null;
  }

  get tab(): ViewTab {
    return this._tab;
  }

  set tab(tab: ViewTab) {
    if (tab !== this._tab) {
      this._tab = tab;
      this.emitChanged();
    }
  }

  get selectedBuildId(): number | null {
    return this._selected;
  }

  get selectedBuild(): IBuild | null {
    return this._builds.find(b => b.id === this._selected) ?? null;
  }

  selectBuild(id: number | null): void {
    if (id !== this._selected) {
      this._selected = id;
      this.emitChanged();
    }
  }

  get kernel(): IEnvironmentKernel | null {
    return this._kernel.kernel;
  }

  get kernelChecked(): boolean {
    return this._kernel.checked;
  }

  // -- the specification being edited (see specedit.ts) ------------------------------------

  get specText(): string {
    return this.spec.text;
  }

  /** True when the text differs from the build it was loaded from. */
  get specDirty(): boolean {
    return this.spec.edited;
  }

  /** Unbuilt work closing the view would lose (the tab shows it; closing asks). */
  get dirty(): boolean {
    return !this._missing && this.spec.dirty;
  }

  get specIsLockfile(): boolean {
    return this.spec.isLockfile;
  }

  get specBaseBuildId(): number | null {
    return this.spec.baseBuildId;
  }

  get specLoading(): boolean {
    return this.spec.loading;
  }

  get description(): string | undefined {
    return this.spec.description;
  }

  setSpecText(text: string): void {
    this.spec.setText(text);
  }

  /** Put a build's specification in the editor, on purpose: it stays until replaced. */
  loadSpecFromBuild(id: number): Promise<void> {
    return this.spec.load(id, { pin: id !== this.currentBuildId });
  }

  /** Show build `id`'s specification with the cursor on `line` (a failed build's problem). */
  async showSpecLine(id: number, line: number, column = 1): Promise<void> {
    if (this.spec.baseBuildId !== id) {
      await this.loadSpecFromBuild(id);
    }
    this.tab = 'specification';
    this.spec.requestLine(line, column);
  }

  revertSpec(): void {
    this.spec.revert();
  }

  // -- actions -----------------------------------------------------------------------------

  /** Submit the edited specification; resolves with the new (or same) build id. */
  async submit(): Promise<number> {
    const description = this.spec.description;
    const buildId = await this.api.submitSpecification({
      namespace: this.namespace,
      specification: this.spec.text,
      is_lockfile: this.spec.isLockfile,
      environment_name: this.name,
      ...(this._draft && description ? { environment_description: description } : {})
    });
    this._draft = false;
    this.spec.submitted(buildId);
    this._selected = buildId;
    this._tab = 'log';
    await this._afterAction();
    return buildId;
  }

  async rebuild(id: number): Promise<number> {
    const buildId = await this.api.rebuild(id);
    this._selected = buildId;
    this._tab = 'log';
    await this._afterAction();
    return buildId;
  }

  async cancel(id: number): Promise<void> {
    await this.api.cancelBuild(id);
    await this._afterAction();
  }

  async makeCurrent(id: number): Promise<void> {
    this._environment = await this.api.setCurrentBuild(this.namespace, this.name, id);
    this._selected = id; // its log, packages and artifacts are now the environment's
    await this._afterAction();
  }

  /** Reinstall a garbage-collected build from its lock file; the poll follows it while it runs. */
  async restore(id: number): Promise<void> {
    await this.api.restoreBuild(id);
    await this._afterAction();
  }

  async deleteBuild(id: number): Promise<void> {
    await this.api.deleteBuild(id);
    if (this._selected === id) {
      this._selected = null;
    }
    await this._afterAction();
  }

  async deleteEnvironment(): Promise<void> {
    await this.api.deleteEnvironment(this.namespace, this.name);
    this.spec.discard(); // no draft of what is gone
    this._missing = true;
    this.emitChanged();
    void this._environments?.refresh();
  }

  diff(from: number, to: number): Promise<IBuildDiff> {
    return this.api.diffBuilds(from, to);
  }

  /** Fetch the server's default channels into `channels` (once). */
  loadChannels(): Promise<void> {
    return this.channels.request('default', async () =>
      (await this.api.channels()).map(c => c.name)
    );
  }

  // -- refreshing --------------------------------------------------------------------------

  /** The view is shown or hidden (it polls only while shown): refresh when shown. */
  protected onActiveChanged(active: boolean): void {
    this.emitChanged();
    if (active && !this._draft) {
      void this.refresh();
    }
  }

  /** Find the environment's kernel; after a build, retry while the server registers it. */
  checkKernel(retries = 0): Promise<void> {
    return this._kernel.check(() => this.usableBuildId, retries);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.packages.dispose();
    this.comparison.dispose();
    this.log.dispose();
    this.channels.dispose();
    this.spec.dispose();
    this._kernel.dispose();
    super.dispose();
  }

  protected get paused(): boolean {
    return this._draft || this._missing;
  }

  protected get live(): boolean {
    return this._builds.some(b => isActive(b.status)) || !!this._loadError;
  }

  private async _afterAction(): Promise<void> {
    this.emitChanged();
    await Promise.all([this.refresh(), this._environments?.refresh()]);
  }

  protected async fetch(): Promise<void> {
    if (this._draft) {
      return;
    }
    const previousUsable = this.usableBuildId;
    try {
      const [environment, builds] = await Promise.all([
        this.api.getEnvironment(this.namespace, this.name),
        this.api.listBuilds({
          namespace: this.namespace,
          name: this.name,
          sort_by: 'id',
          order: 'desc'
        })
      ]);
      this._environment = environment;
      this._builds = builds.items;
      this._loadError = null;
      this._missing = false;
    } catch (error) {
      if (error instanceof CondaStoreError && error.status === 404 && !error.isExtensionMissing) {
        this._missing = true;
        this._loadError = null;
        this._loaded = true;
        this.emitChanged();
        return;
      }
      this._loadError = error as Error;
      this.emitChanged();
      throw error;
    }
    const first = !this._loaded;
    this._loaded = true;
    if (this._selected === null || !this._builds.some(b => b.id === this._selected)) {
      this._selected = this._builds[0]?.id ?? null;
    }
    if (first && this._builds[0] && isActive(this._builds[0].status)) {
      this._tab = 'log'; // opened while it builds: show it building
    }
    this.emitChanged();
    // The editor shows the build in use unless edited or chosen on purpose (also after a rollback).
    this.spec.follow(this.currentBuildId, this._builds[0]?.id ?? null);
    if (first || previousUsable !== this.usableBuildId) {
      // A build that just completed gets its kernel within a second or so: look a few times.
      void this.checkKernel(first || this.usableBuildId === null ? 0 : 6);
    }
  }

  private _onEnvironmentsChanged(): void {
    const entry = this._environments?.entry(this.namespace, this.name);
    if (!entry || this._draft) {
      return;
    }
    const mine = this._builds.find(b => isActive(b.status))?.id ?? null;
    if (
      entry.activeBuildId !== mine ||
      entry.environment.current_build_id !== this.currentBuildId ||
      entry.environment.current_build?.status !== this._environment?.current_build?.status
    ) {
      void this.refresh();
    }
  }

  /** The selected build's packages and log, while the view shows its tabs (see panel.tsx). */
  private _follow(): void {
    const build = this._loaded && !this._draft && !this._missing ? this.selectedBuild : null;
    this.log.follow(build?.id ?? null, build?.status ?? null, this.active);
    void this.packages.request(
      build && `${build.id}:${build.status}`,
      async () => (await this.api.buildPackages(build!.id)).items
    );
  }

  /** The log stream says the selected build's status changed: refresh. */
  private _onLogStatus(_: BuildLog, status: BuildStatus): void {
    const selected = this.selectedBuild;
    if (selected && status !== selected.status) {
      void this.refresh();
    }
  }

  private _builds: IBuild[] = [];
  private _draft = false;
  private _environment: IEnvironment | null = null;
  private _environments: IEnvironmentsModel | null;
  private _kernel: EnvironmentKernelModel;
  private _loadError: Error | null = null;
  private _loaded = false;
  private _missing = false;
  private _selected: number | null = null;
  private _tab: ViewTab = 'specification';
}
