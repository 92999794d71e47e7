import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/**
 * A small model that says when it changed: views follow `changed` (emitted with a `T`) and read
 * the model again. Disposing of it disconnects everything connected to its signals; a subclass
 * that holds more (a poll, a stream, other models) overrides `dispose()`, lets go of them, and
 * calls `super.dispose()`.
 */
export class ChangeNotifier<T = void> implements IDisposable {
  get changed(): ISignal<this, T> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  protected emitChanged(args: T): void {
    this._changed.emit(args);
  }

  private _changed = new Signal<this, T>(this);
  private _disposed = false;
}

/**
 * A `ChangeNotifier` whose data views read is one `state`: replaced as a whole (never changed in
 * place) by `setState`, so a view reads one consistent snapshot. A subclass emits `changed` when
 * it is done changing.
 */
export class StateNotifier<S extends object, T = void> extends ChangeNotifier<T> {
  constructor(initial: S) {
    super();
    this._state = initial;
  }

  get state(): Readonly<S> {
    return this._state;
  }

  protected setState(patch: Partial<S>): void {
    this._state = { ...this._state, ...patch };
  }

  private _state: S;
}
