import { ReactWidget } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { condaIcon } from './icons';
import { CondaStoreError } from './request';
import { ICondaStoreAPI, SIDEBAR_ID } from './tokens';

type State =
  | { kind: 'loading' }
  | { kind: 'ready'; version: string }
  | { kind: 'error'; message: string; missing: boolean };

function ServerStatus(props: { api: ICondaStoreAPI }): JSX.Element {
  const [state, setState] = useState<State>({ kind: 'loading' });

  useEffect(() => {
    let live = true;
    props.api
      .status()
      .then(status => live && setState({ kind: 'ready', version: status.version }))
      .catch((error: Error) => {
        if (!live) {
          return;
        }
        const missing = error instanceof CondaStoreError && error.isExtensionMissing;
        setState({ kind: 'error', message: error.message, missing });
      });
    return () => {
      live = false;
    };
  }, [props.api]);

  switch (state.kind) {
    case 'loading':
      return (
        <p className="jp-CondaStore-status" role="status">
          Connecting to conda-store…
        </p>
      );
    case 'ready':
      return (
        <p className="jp-CondaStore-status" role="status" data-state="ready">
          conda-store-jupyter server{' '}
          <span className="jp-CondaStore-version">{state.version}</span>
        </p>
      );
    case 'error':
      return (
        <div className="jp-CondaStore-error" role="alert" data-state="error">
          <p>{state.message}</p>
          {state.missing && (
            <p>
              Install the Python package <code>conda-store-jupyter</code> in the
              environment running Jupyter Server, check that{' '}
              <code>jupyter server extension list</code> shows{' '}
              <code>conda_store_jupyter</code> enabled, then restart the server.
            </p>
          )}
        </div>
      );
  }
}

/** The left sidebar: for now it proves the round trip to the server extension. */
export class CondaStoreSidebar extends ReactWidget {
  constructor(private readonly _api: ICondaStoreAPI) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-CondaStore-sidebar');
    this.title.icon = condaIcon;
    this.title.caption = 'conda-store environments';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'conda-store environments');
  }

  render(): JSX.Element {
    return (
      <div className="jp-CondaStore-sidebarContent">
        <header className="jp-CondaStore-header">
          <h2>conda-store</h2>
        </header>
        <ServerStatus api={this._api} />
      </div>
    );
  }
}
