import { ChangeNotifier } from './signals';

/** A specification edited and not yet built: of a new environment, or of an existing one. */
export interface IStoredDraft {
  namespace: string;
  name: string;
  /** The specification's text (YAML, or a lock file's text). */
  text: string;
  isLockfile: boolean;
  description?: string;
  /** True for an environment that does not exist yet (made in the create dialog). */
  isNew: boolean;
  /** The build the edit started from, for an existing environment. */
  baseBuildId?: number | null;
  /** When it was last saved (ms since the epoch). */
  savedAt: number;
}

const KEY = '@conda-store-jupyter/labextension:drafts';

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * The unsaved specifications, kept in the browser's storage until they are built or discarded:
 * closing a tab or reloading the page loses no edit. The sidebar lists them; an environment's
 * view restores its own. One browser, one list (storage is per origin, shared by its tabs: the
 * list is read again when another tab changes it).
 */
export class DraftStore extends ChangeNotifier {
  constructor(storage: Storage | null = DraftStore.defaultStorage()) {
    super();
    this._storage = storage;
    this._drafts = this._read();
    if (typeof window !== 'undefined') {
      window.addEventListener('storage', this._onStorage);
    }
  }

  static defaultStorage(): Storage | null {
    try {
      return typeof window !== 'undefined' ? window.localStorage : null;
    } catch {
      return null; // storage disabled: drafts live as long as the page
    }
  }

  /** Every draft, most recently saved first. */
  list(): IStoredDraft[] {
    return [...this._drafts.values()].sort((a, b) => b.savedAt - a.savedAt);
  }

  get(namespace: string, name: string): IStoredDraft | undefined {
    return this._drafts.get(keyOf(namespace, name));
  }

  has(namespace: string, name: string): boolean {
    return this._drafts.has(keyOf(namespace, name));
  }

  save(draft: Omit<IStoredDraft, 'savedAt'>): void {
    const key = keyOf(draft.namespace, draft.name);
    const previous = this._drafts.get(key);
    if (
      previous &&
      previous.text === draft.text &&
      previous.isLockfile === draft.isLockfile &&
      previous.description === draft.description &&
      previous.isNew === draft.isNew &&
      previous.baseBuildId === draft.baseBuildId
    ) {
      return;
    }
    this._drafts.set(key, { ...draft, savedAt: Date.now() });
    this._write();
  }

  discard(namespace: string, name: string): void {
    if (this._drafts.delete(keyOf(namespace, name))) {
      this._write();
    }
  }

  dispose(): void {
    if (typeof window !== 'undefined') {
      window.removeEventListener('storage', this._onStorage);
    }
    super.dispose();
  }

  private _read(): Map<string, IStoredDraft> {
    const drafts = new Map<string, IStoredDraft>();
    let stored: unknown = null;
    try {
      stored = JSON.parse(this._storage?.getItem(KEY) ?? '[]');
    } catch {
      stored = [];
    }
    for (const item of Array.isArray(stored) ? stored : []) {
      if (
        item &&
        typeof item.namespace === 'string' &&
        typeof item.name === 'string' &&
        typeof item.text === 'string'
      ) {
        drafts.set(keyOf(item.namespace, item.name), {
          ...item,
          isLockfile: !!item.isLockfile,
          isNew: !!item.isNew,
          savedAt: typeof item.savedAt === 'number' ? item.savedAt : 0
        });
      }
    }
    return drafts;
  }

  private _write(): void {
    try {
      this._storage?.setItem(KEY, JSON.stringify([...this._drafts.values()]));
    } catch {
      // Full or disabled storage: the draft still lives in this page.
    }
    this.emitChanged();
  }

  private _onStorage = (event: StorageEvent): void => {
    if (event.key === KEY) {
      this._drafts = this._read();
      this.emitChanged();
    }
  };

  private _storage: Storage | null;
  private _drafts: Map<string, IStoredDraft>;
}
