import { ReactWidget } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import React from 'react';

import { DraftStore } from './drafts';
import { condaIcon } from './icons';
import { SidebarView } from './sidebar/view';
import { IEnvironmentsModel, SIDEBAR_ID } from './tokens';

/** The left sidebar: namespaces, their environments and drafts, and their states. */
export class CondaStoreSidebar extends ReactWidget {
  constructor(
    private readonly _model: IEnvironmentsModel,
    private readonly _commands: CommandRegistry,
    /** Unbuilt edits, listed with the environments (and as new ones when they are). */
    private readonly _drafts: DraftStore | null = null
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-CondaStore-sidebar');
    this.title.icon = condaIcon;
    this.title.caption = 'Conda environments (conda-store)';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'conda-store environments');
  }

  // The model refreshes when it becomes active and polls only while it is: active means shown,
  // whether shown later or already visible when attached (a restored layout).
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._model.active = true;
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._model.active = false;
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.active = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.active = false;
  }

  render(): JSX.Element {
    return <SidebarView model={this._model} commands={this._commands} drafts={this._drafts} />;
  }
}
