import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/**
 * One piece of data that depends on a key (a build's packages, the differences between two
 * builds): fetched once each time the wanted key changes. An answer that comes after another key
 * was asked for is dropped. Views read `value`, `error` and `loading`, and follow `changed`.
 */
export class Resource<T> implements IDisposable {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The key of the data wanted now; null: none. */
  get key(): string | null {
    return this._key;
  }

  /** The data of `key`, once fetched. */
  get value(): T | null {
    return this._value;
  }

  /** Why fetching the data of `key` failed; null if it did not. */
  get error(): unknown {
    return this._error;
  }

  get loading(): boolean {
    return this._loading;
  }

  /**
   * Want the data of `key` (null: none), fetched with `fetch`. Nothing happens when `key` is the
   * key wanted already. Resolves when the answer is in (or dropped).
   */
  async request(key: string | null, fetch: () => Promise<T>): Promise<void> {
    if (this._disposed || key === this._key) {
      return;
    }
    const generation = ++this._generation;
    this._key = key;
    this._value = null;
    this._error = null;
    this._loading = key !== null;
    this._changed.emit();
    if (key === null) {
      return;
    }
    const current = () => !this._disposed && generation === this._generation;
    try {
      const value = await fetch();
      if (current()) {
        this._value = value;
      }
    } catch (error) {
      if (current()) {
        this._error = error ?? new Error('failed');
      }
    }
    if (current()) {
      this._loading = false;
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  private _changed = new Signal<this, void>(this);
  private _disposed = false;
  private _error: unknown = null;
  private _generation = 0;
  private _key: string | null = null;
  private _loading = false;
  private _value: T | null = null;
}
