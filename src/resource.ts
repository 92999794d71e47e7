import { StateNotifier } from './signals';

/** What a `Resource` holds: the key wanted, and its data once fetched. */
export interface IResourceState<T> {
  /** The key of the data wanted now; null: none. */
  readonly key: string | null;
  /** The data of `key`, once fetched. */
  readonly value: T | null;
  /** Why fetching the data of `key` failed; null if it did not. */
  readonly error: unknown;
  readonly loading: boolean;
}

/**
 * One piece of data that depends on a key (a build's packages, the differences between two
 * builds): fetched once each time the wanted key changes. An answer that comes after another key
 * was asked for is dropped. Views read `state` and follow `changed`.
 */
export class Resource<T> extends StateNotifier<IResourceState<T>> {
  constructor() {
    super({ key: null, value: null, error: null, loading: false });
  }

  /**
   * Want the data of `key` (null: none), fetched with `fetch`. Nothing happens when `key` is the
   * key wanted already. Resolves when the answer is in (or dropped).
   */
  async request(key: string | null, fetch: () => Promise<T>): Promise<void> {
    if (this.isDisposed || key === this.state.key) {
      return;
    }
    const generation = ++this._generation;
    this.setState({ key, value: null, error: null, loading: key !== null });
    this.emitChanged();
    if (key === null) {
      return;
    }
    let value: T | null = null;
    let error: unknown = null;
    try {
      value = await fetch();
    } catch (reason) {
      error = reason ?? new Error('failed');
    }
    if (!this.isDisposed && generation === this._generation) {
      this.setState({ value, error, loading: false });
      this.emitChanged();
    }
  }

  private _generation = 0;
}
