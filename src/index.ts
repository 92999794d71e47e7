import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { CondaStoreAPI } from './api';
import { CondaStoreSidebar } from './sidebar';
import { CommandIDs, ICondaStoreAPI, PLUGIN_ID, SIDEBAR_ID } from './tokens';

/** The API client, provided to every other plugin of the extension. */
const apiPlugin: JupyterFrontEndPlugin<ICondaStoreAPI> = {
  id: '@conda-store-jupyter/labextension:api',
  description: 'Client of the conda-store-jupyter REST API.',
  autoStart: true,
  provides: ICondaStoreAPI,
  activate: (app: JupyterFrontEnd): ICondaStoreAPI =>
    new CondaStoreAPI(app.serviceManager.serverSettings)
};

/** The left sidebar panel and the command that opens it. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The conda-store sidebar panel.',
  autoStart: true,
  requires: [ICondaStoreAPI, ILabShell],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    api: ICondaStoreAPI,
    labShell: ILabShell,
    palette: ICommandPalette | null
  ): void => {
    const sidebar = new CondaStoreSidebar(api);
    labShell.add(sidebar, 'left', { rank: 850 });

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open the conda-store panel',
      execute: () => labShell.activateById(SIDEBAR_ID)
    });
    palette?.addItem({ command: CommandIDs.openPanel, category: 'conda-store' });
  }
};

export default [apiPlugin, sidebarPlugin];
