import { KernelSpec } from '@jupyterlab/services';
import { parse } from 'yaml';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IEnvironmentKernel, findKernel, lookUpKernel } from '../kernels';
import { entryOf } from '../model';
import { IBuild, IBuildDiff, IEnvironment, isActive } from '../models';
import { CondaStoreError } from '../request';
import { isLockfileContent, storedSpecToYaml } from '../spec';
import { ICondaStoreAPI, IEnvironmentEntry, IEnvironmentsModel } from '../tokens';
import { refreshNow } from '../poll';

export type ViewTab = 'specification' | 'builds' | 'log' | 'packages' | 'artifacts';

export const TABS: Array<{ id: ViewTab; label: string }> = [
  { id: 'specification', label: 'Specification' },
  { id: 'builds', label: 'Builds' },
  { id: 'log', label: 'Log' },
  { id: 'packages', label: 'Packages' },
  { id: 'artifacts', label: 'Artifacts' }
];

export interface IDraft {
  text: string;
  isLockfile?: boolean;
  description?: string;
}

export interface IViewModelOptions {
  api: ICondaStoreAPI;
  namespace: string;
  name: string;
  /** A specification to start from, for an environment that does not exist yet. */
  draft?: IDraft;
  environments?: IEnvironmentsModel | null;
  kernelspecs?: KernelSpec.IManager | null;
  /** Milliseconds between refreshes while a build runs. */
  interval?: number;
}

/**
 * Everything one environment view shows and does: the environment, its builds, the selected
 * build, the specification being edited, the environment's kernel. Refreshes itself while a
 * build of it runs and the view is visible; quiet otherwise.
 */
export class EnvironmentViewModel implements IDisposable {
  constructor(options: IViewModelOptions) {
    this.api = options.api;
    this.namespace = options.namespace;
    this.name = options.name;
    this._environments = options.environments ?? null;
    this._kernelspecs = options.kernelspecs ?? null;
    if (options.draft) {
      this._draft = true;
      this._specText = options.draft.text;
      this._specOriginal = '';
      this._specIsLockfile = !!options.draft.isLockfile;
      this._description = options.draft.description;
      this._tab = 'specification';
    }
    this._poll = new Poll({
      auto: false,
      factory: () => this._load(),
      frequency: { interval: options.interval ?? 2000, backoff: true, max: 60 * 1000 },
      name: `@conda-store-jupyter/labextension:view:${this.namespace}/${this.name}`,
      standby: () => this._standby()
    });
    this._environments?.changed.connect(this._onEnvironmentsChanged, this);
    this._kernelspecs?.specsChanged.connect(this._onSpecsChanged, this);
  }

  readonly api: ICondaStoreAPI;
  readonly namespace: string;
  readonly name: string;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

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
      this._changed.emit();
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
      this._changed.emit();
    }
  }

  get kernel(): IEnvironmentKernel | null {
    return this._kernel;
  }

  get kernelChecked(): boolean {
    return this._kernelChecked;
  }

  // -- the specification being edited -------------------------------------------------------

  get specText(): string {
    return this._specText;
  }

  /** True when the text differs from what it was loaded from. */
  get specDirty(): boolean {
    return this._specText !== this._specOriginal;
  }

  get specIsLockfile(): boolean {
    return this._specIsLockfile;
  }

  get specBaseBuildId(): number | null {
    return this._specBase;
  }

  get specLoading(): boolean {
    return this._specLoading;
  }

  get description(): string | undefined {
    return this._description;
  }

  setSpecText(text: string): void {
    if (text === this._specText) {
      return;
    }
    this._specText = text;
    // An uploaded or pasted conda-lock file is submitted as one.
    try {
      this._specIsLockfile = isLockfileContent(parse(text));
    } catch {
      // invalid YAML: keep what it was; validation shows the problem
    }
    this._changed.emit();
  }

  /** Put a build's specification in the editor. */
  async loadSpecFromBuild(id: number): Promise<void> {
    this._specLoading = true;
    this._changed.emit();
    try {
      const build = await this.api.getBuild(id);
      const specification = build.specification;
      if (specification) {
        const text = storedSpecToYaml(specification.spec, specification.is_lockfile);
        this._specText = text;
        this._specOriginal = text;
        this._specIsLockfile = specification.is_lockfile;
        this._specBase = id;
      }
    } finally {
      this._specLoading = false;
      this._changed.emit();
    }
  }

  revertSpec(): void {
    this.setSpecText(this._specOriginal);
  }

  // -- actions -----------------------------------------------------------------------------

  /** Submit the edited specification; resolves with the new (or same) build id. */
  async submit(): Promise<number> {
    const buildId = await this.api.submitSpecification({
      namespace: this.namespace,
      specification: this._specText,
      is_lockfile: this._specIsLockfile,
      environment_name: this.name,
      ...(this._draft && this._description
        ? { environment_description: this._description }
        : {})
    });
    this._draft = false;
    this._specOriginal = this._specText;
    this._specBase = buildId;
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

  async deleteBuild(id: number): Promise<void> {
    await this.api.deleteBuild(id);
    if (this._selected === id) {
      this._selected = null;
    }
    await this._afterAction();
  }

  async deleteEnvironment(): Promise<void> {
    await this.api.deleteEnvironment(this.namespace, this.name);
    this._missing = true;
    this._changed.emit();
    void this._environments?.refresh();
  }

  diff(from: number, to: number): Promise<IBuildDiff> {
    return this.api.diffBuilds(from, to);
  }

  // -- refreshing --------------------------------------------------------------------------

  /** Whether the view is visible (it polls only then). */
  set active(value: boolean) {
    if (value === this._active) {
      return;
    }
    this._active = value;
    this._changed.emit();
    if (value && !this._draft) {
      void this.refresh();
    }
  }

  get active(): boolean {
    return this._active;
  }

  set interval(ms: number) {
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: ms,
      max: Math.max(this._poll.frequency.max, ms)
    };
  }

  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    this._force = true;
    await refreshNow(this._poll);
  }

  /** Find the environment's kernel; after a build, retry while the server registers it. */
  async checkKernel(retries = 0): Promise<void> {
    if (!this._kernelspecs || this._disposed) {
      return;
    }
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        this._kernel = await lookUpKernel(this._kernelspecs, this.namespace, this.name);
      } catch {
        this._kernel = null;
      }
      const expected = this.usableBuildId;
      const fresh = this._kernel && (expected === null || this._kernel.buildId === expected);
      if (fresh || attempt === retries || this._disposed) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 500 * (attempt + 1)));
    }
    this._kernelChecked = true;
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _standby(): boolean {
    if (this._force) {
      return false;
    }
    if (!this._active || this._draft || this._missing || document.visibilityState === 'hidden') {
      return true;
    }
    return !(this._builds.some(b => isActive(b.status)) || this._loadError);
  }

  private async _afterAction(): Promise<void> {
    this._changed.emit();
    await Promise.all([this.refresh(), this._environments?.refresh()]);
  }

  private async _load(): Promise<void> {
    this._force = false;
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
        this._changed.emit();
        return;
      }
      this._loadError = error as Error;
      this._changed.emit();
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
    this._changed.emit();
    if (first && this._builds.length && this._specBase === null && !this.specDirty) {
      void this.loadSpecFromBuild(this._builds[0].id).catch(() => undefined);
    }
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

  private _onSpecsChanged(): void {
    // The manager refreshed on its own: look again without asking the server.
    const found = this._kernelspecs
      ? findKernel(this._kernelspecs.specs, this.namespace, this.name)
      : null;
    if (found && JSON.stringify(found) !== JSON.stringify(this._kernel)) {
      this._kernel = found;
      this._kernelChecked = true;
      this._changed.emit();
    }
  }

  private _active = false;
  private _builds: IBuild[] = [];
  private _changed = new Signal<this, void>(this);
  private _description: string | undefined;
  private _disposed = false;
  private _draft = false;
  private _environment: IEnvironment | null = null;
  private _environments: IEnvironmentsModel | null;
  private _force = false;
  private _kernel: IEnvironmentKernel | null = null;
  private _kernelChecked = false;
  private _kernelspecs: KernelSpec.IManager | null;
  private _loadError: Error | null = null;
  private _loaded = false;
  private _missing = false;
  private _poll: Poll;
  private _selected: number | null = null;
  private _specBase: number | null = null;
  private _specIsLockfile = false;
  private _specLoading = false;
  private _specOriginal = '';
  private _specText = '';
  private _tab: ViewTab = 'specification';
}
