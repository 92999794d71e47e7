import { ServerConnection } from '@jupyterlab/services';
import { Token } from '@lumino/coreutils';

import type { IServerStatus } from './api';

/** Plugin IDs, command IDs and DOM ids shared by the plugins and the UI tests. */
export const PLUGIN_ID = '@conda-store-jupyter/labextension:plugin';
export const SIDEBAR_ID = 'jp-CondaStore-sidebar';

export namespace CommandIDs {
  export const openPanel = 'conda-store:open-panel';
}

/** The typed API client; other plugins of this extension ask for it by this token. */
export interface ICondaStoreAPI {
  readonly serverSettings: ServerConnection.ISettings;
  status(): Promise<IServerStatus>;
}

export const ICondaStoreAPI = new Token<ICondaStoreAPI>(
  '@conda-store-jupyter/labextension:ICondaStoreAPI',
  'Client of the conda-store-jupyter REST API.'
);
