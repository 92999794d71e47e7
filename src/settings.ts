import type { ISettingRegistry } from '@jupyterlab/settingregistry';

/** The settings of the panel (schema/plugin.json). */
export interface IPanelSettings {
  /** Seconds between refreshes while something builds. */
  refreshInterval: number;
  /**
   * Seconds between refreshes when nothing builds, while the panel and the browser tab are
   * visible (to notice environments made elsewhere); 0: only on demand.
   */
  idleRefreshInterval: number;
  openAfterCreate: boolean;
}

export const DEFAULT_SETTINGS: IPanelSettings = {
  refreshInterval: 2,
  idleRefreshInterval: 10,
  openAfterCreate: true
};

/** The panel's settings as they are now: the defaults when there are none (no registry). */
export function readSettings(
  settings: ISettingRegistry.ISettings | null | undefined
): IPanelSettings {
  return {
    ...DEFAULT_SETTINGS,
    ...((settings?.composite ?? {}) as Partial<IPanelSettings>)
  };
}
