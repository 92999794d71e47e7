/**
 * The specification being edited in an environment's view: its text, the build it came from,
 * whether it is edited, and its copy in the draft store (so closing the tab or reloading the
 * page loses nothing).
 */
import { parse } from 'yaml';

import { DraftStore } from '../drafts';
import { isLockfileContent, storedSpecToYaml } from '../spec';
import { ICondaStoreAPI } from '../tokens';

/** A specification to start from, for an environment that does not exist yet. */
export interface IDraft {
  text: string;
  isLockfile?: boolean;
  description?: string;
}

export interface ISpecEditOptions {
  api: ICondaStoreAPI;
  namespace: string;
  name: string;
  drafts: DraftStore | null;
  /** Called on every change (the view model re-renders). */
  onChange: () => void;
  /** The specification of a new environment (not built yet). */
  draft?: IDraft;
  /** Milliseconds typing must pause before the text is kept in the draft store. */
  saveDelay?: number;
}

/** A line to show in the editor once the text it belongs to is loaded (1-based). */
export interface ILineRequest {
  line: number;
  column: number;
}

export class SpecificationEdit {
  constructor(options: ISpecEditOptions) {
    this._api = options.api;
    this._drafts = options.drafts;
    this._namespace = options.namespace;
    this._name = options.name;
    this._onChange = options.onChange;
    this._saveDelay = options.saveDelay ?? 400;
    const stored = this._drafts?.get(options.namespace, options.name);
    if (options.draft) {
      this._isNew = true;
      this._text = options.draft.text;
      this._isLockfile = !!options.draft.isLockfile;
      this._description = options.draft.description;
      this.saveDraft(); // listed in the sidebar from the start
    } else if (stored) {
      // Unbuilt edits of an existing environment: the text comes back; the build it started
      // from is loaded as the original when the environment is (see `follow`).
      this._text = stored.text;
      this._isLockfile = stored.isLockfile;
      this._restoredBase = stored.baseBuildId ?? null;
      this._restoring = true;
    }
  }

  get text(): string {
    return this._text;
  }

  /** The text the edits started from (a build's specification). */
  get original(): string {
    return this._original;
  }

  get isLockfile(): boolean {
    return this._isLockfile;
  }

  get description(): string | undefined {
    return this._description;
  }

  /** True for an environment that does not exist yet. */
  get isNew(): boolean {
    return this._isNew;
  }

  /** The build whose specification the text came from. */
  get baseBuildId(): number | null {
    return this._base;
  }

  /** True when the text differs from the build it came from. */
  get edited(): boolean {
    return this._text !== this._original;
  }

  /** Unbuilt work that closing would lose: edits, or a new environment not built yet. */
  get dirty(): boolean {
    return this._isNew || this.edited;
  }

  /** True when another build than the one in use was loaded on purpose (it stays). */
  get pinned(): boolean {
    return this._pinned;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** A line the editor should show, once (see `takeLineRequest`). */
  get lineRequest(): ILineRequest | null {
    return this._lineRequest;
  }

  takeLineRequest(): ILineRequest | null {
    const request = this._lineRequest;
    this._lineRequest = null;
    return request;
  }

  requestLine(line: number, column = 1): void {
    this._lineRequest = { line, column };
    this._onChange();
  }

  setText(text: string): void {
    if (text === this._text) {
      return;
    }
    this._text = text;
    // An uploaded or pasted conda-lock file is submitted as one.
    try {
      this._isLockfile = isLockfileContent(parse(text));
    } catch {
      // invalid YAML: keep what it was; validation shows the problem
    }
    this._scheduleSave();
    this._onChange();
  }

  /**
   * Put build `id`'s specification in the editor. `pin` keeps it there when it is not the build
   * in use (a deliberate choice); `keepText` only sets it as the original (restoring a draft).
   */
  async load(id: number, options: { pin?: boolean; keepText?: boolean } = {}): Promise<void> {
    this._loading = true;
    this._onChange();
    try {
      const build = await this._api.getBuild(id);
      const specification = build.specification;
      if (specification) {
        const text = storedSpecToYaml(specification.spec, specification.is_lockfile);
        this._original = text;
        if (!options.keepText) {
          this._text = text;
          this._isLockfile = specification.is_lockfile;
        }
        this._base = id;
        this._pinned = !!options.pin;
        this.saveDraft();
      }
    } finally {
      this._loading = false;
      this._onChange();
    }
  }

  /**
   * The environment was (re)loaded: without edits or a deliberate choice, the editor shows the
   * build in use (`current`, else the newest build), also after a rollback.
   */
  follow(current: number | null, newest: number | null): void {
    if (this._isNew || this._loading) {
      return;
    }
    if (this._restoring) {
      this._restoring = false;
      const base = this._restoredBase ?? current ?? newest;
      if (base !== null) {
        void this.load(base, { keepText: true, pin: base !== current }).catch(() => undefined);
      }
      return;
    }
    if (this._pinned && this._base === current) {
      this._pinned = false; // the build shown became the one in use (a submitted build completed)
    }
    if (this._pinned || this.edited) {
      return;
    }
    const target = current ?? newest;
    if (target !== null && target !== this._base) {
      void this.load(target).catch(() => undefined);
    }
  }

  /** Back to the build's text; the stored draft goes. */
  revert(): void {
    this._text = this._original;
    this._drafts?.discard(this._namespace, this._name);
    this._onChange();
  }

  /** Drop the edits and the stored draft (closing a view with "Discard"). */
  discard(): void {
    this._cancelSave();
    this._drafts?.discard(this._namespace, this._name);
  }

  /** The text was built as `buildId`: it is the original now, and the draft goes. */
  submitted(buildId: number): void {
    this._cancelSave();
    this._isNew = false;
    this._original = this._text;
    this._base = buildId;
    this._pinned = true; // shown until the build completes and becomes the one in use
    this._drafts?.discard(this._namespace, this._name);
  }

  /** Keep the text in the draft store now if it is unbuilt work, else forget the stored one. */
  saveDraft(): void {
    this._cancelSave();
    if (!this._drafts || this._restoring) {
      return;
    }
    if (this.dirty) {
      this._drafts.save({
        namespace: this._namespace,
        name: this._name,
        text: this._text,
        isLockfile: this._isLockfile,
        description: this._description,
        isNew: this._isNew,
        baseBuildId: this._base
      });
    } else {
      this._drafts.discard(this._namespace, this._name);
    }
  }

  dispose(): void {
    if (this._timer !== null) {
      this.saveDraft(); // typing not yet saved
    }
  }

  private _scheduleSave(): void {
    this._cancelSave();
    this._timer = setTimeout(() => this.saveDraft(), this._saveDelay);
  }

  private _cancelSave(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _api: ICondaStoreAPI;
  private _base: number | null = null;
  private _description: string | undefined;
  private _drafts: DraftStore | null;
  private _isLockfile = false;
  private _isNew = false;
  private _lineRequest: ILineRequest | null = null;
  private _loading = false;
  private _name: string;
  private _namespace: string;
  private _onChange: () => void;
  private _original = '';
  private _pinned = false;
  private _restoredBase: number | null = null;
  private _restoring = false;
  private _saveDelay: number;
  private _text = '';
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
