/** What the dialogs share: a body that enables its accept button, and who checks names. */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';

import { CondaStoreAPI } from './api';
import { ISpecValidator } from './validation';

let fallbackValidator: ISpecValidator | null = null;

/** What checks names and files: the caller's API client, or one on the default settings. */
export function validatorOr(validator: ISpecValidator | undefined): ISpecValidator {
  if (validator) {
    return validator;
  }
  if (!fallbackValidator) {
    fallbackValidator = new CondaStoreAPI();
  }
  return fallbackValidator;
}

/** A dialog body with inline validation that disables the accept button while invalid. */
export abstract class ValidatedBody<T> extends ReactWidget implements Dialog.IBodyWidget<T> {
  abstract getValue(): T;

  /**
   * Enable or disable the dialog's accept button, through the dialog's own validation: it
   * refuses to accept while something in it is marked `jp-mod-error` (the body, while invalid),
   * and looks again on every input event.
   */
  protected setValid(valid: boolean): void {
    this.toggleClass('jp-mod-error', !valid);
    this.node.dispatchEvent(new Event('input', { bubbles: true }));
    const dialog = this.node.closest('.jp-Dialog-content');
    const button = dialog?.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept');
    if (button) {
      button.disabled = !valid;
    }
  }
}
