/**
 * Galata on Debian's Chromium: Playwright's own browser download does not work on these machines.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  // One server, one store: tests run one after the other (builds compete for 2 cores anyway).
  workers: 1,
  // The leak check first: it fails the run if anything was left outside the server's own root.
  reporter: [['./leak-check-reporter.js'], ['list'], ['html', { open: 'never' }]],
  expect: {
    ...baseConfig.expect,
    // Snapshots are made and compared on the same Debian Chromium. The allowance absorbs a few
    // pixels of anti-aliasing that a new Chromium build may render differently, not a layout
    // change: a column of the builds table 1 px wider changes about 80 pixels, 1 em about 600.
    toHaveScreenshot: { maxDiffPixels: 40 }
  },
  use: {
    ...baseConfig.use,
    video: 'off',
    // Dates, numbers and times render the same on every machine.
    locale: 'en-US',
    timezoneId: 'UTC',
    launchOptions: {
      executablePath: process.env.CSJ_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    // A throw-away root per run for the store, the channel and the Jupyter data, config and
    // runtime dirs; removed when the server exits (run_test_server.py).
    command: 'exec python run_test_server.py',
    url: 'http://localhost:8888/lab',
    timeout: 180 * 1000,
    reuseExistingServer: !process.env.CI,
    // Without this, Playwright SIGKILLs the server's process group and nothing can clean up.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 60 * 1000 }
  }
};
