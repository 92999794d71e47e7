import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import { ICondaStoreAPI } from './tokens';

/** GET / : the service's status. */
export interface IServerStatus {
  version: string;
}

/** Typed client of the conda-store REST API, shared by every plugin through a token. */
export class CondaStoreAPI implements ICondaStoreAPI {
  constructor(
    private readonly _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  get serverSettings(): ServerConnection.ISettings {
    return this._settings;
  }

  async status(): Promise<IServerStatus> {
    const body = await requestAPI<IServerStatus>('', {}, this._settings);
    return body.data as IServerStatus;
  }
}
