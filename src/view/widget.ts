/**
 * The main-area widget around an environment's view, with JupyterLab's dirty-state conventions:
 * the tab shows unbuilt work (as a document's tab shows unsaved changes) and closing it asks.
 */
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';

import type { EnvironmentPanel } from './panel';

/** The class JupyterLab's tabs mark unsaved documents with (DocumentWidget uses it too). */
const DIRTY_CLASS = 'jp-mod-dirty';

export const KEEP_DRAFT = 'Keep as draft';
export const DISCARD = 'Discard';

export class EnvironmentWidget extends MainAreaWidget<EnvironmentPanel> {
  constructor(options: MainAreaWidget.IOptions<EnvironmentPanel>) {
    super(options);
    this.content.model.changed.connect(this._markDirty, this);
    this._markDirty();
  }

  protected onCloseRequest(msg: Message): void {
    const model = this.content.model;
    if (this._closing || !model.dirty) {
      super.onCloseRequest(msg);
      return;
    }
    void this._confirmClose();
  }

  private async _confirmClose(): Promise<void> {
    const model = this.content.model;
    const result = await showDialog({
      title: `Discard changes to ${model.namespace}/${model.name}?`,
      body: model.isDraft
        ? 'This environment has not been built. Keep it as a draft to finish it later (the sidebar lists drafts), or discard it.'
        : 'The specification has edits that were not built. Keep them as a draft to come back to (the sidebar lists drafts), or discard them.',
      buttons: [
        Dialog.cancelButton({ label: 'Keep editing' }),
        Dialog.okButton({ label: KEEP_DRAFT }),
        Dialog.warnButton({ label: DISCARD })
      ],
      defaultButton: 1
    });
    if (this.isDisposed || !result.button.accept) {
      return;
    }
    if (result.button.label === DISCARD) {
      model.spec.discard();
    } else {
      model.spec.saveDraft();
    }
    this._closing = true;
    this.close();
  }

  private _markDirty(): void {
    const dirty = this.content.model.dirty;
    const marked = this.title.className.includes(DIRTY_CLASS);
    if (dirty && !marked) {
      this.title.className = `${this.title.className} ${DIRTY_CLASS}`.trim();
    } else if (!dirty && marked) {
      this.title.className = this.title.className.replace(DIRTY_CLASS, '').trim();
    }
  }

  private _closing = false;
}
