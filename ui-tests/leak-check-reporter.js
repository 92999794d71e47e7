/**
 * Fails the run when it left something behind in the user's Jupyter kernels directory or in the
 * temporary directory: the test server must keep everything under its own per-run root (see
 * run_test_server.py), and remove that root when it exits.
 *
 * A reporter, not a globalTeardown: Playwright runs globalTeardown while the web server is still
 * up (its root still exists then), and stops the web server after it. A reporter's onEnd comes
 * after the web server was stopped, and may turn the run's status into "failed".
 * The listings are taken when the reporter is made, before the web server starts.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

/**
 * Entries of the temporary directory that a galata run may leave: the server's root (and the
 * store and channel of older versions of this setup), and galata's own directories. Other csj-*
 * entries (bench's csj-bench-*, other engineers' stores) come and go on a shared machine while the
 * tests run and say nothing about this run.
 */
const TMP_PREFIXES = ['csj-ui-tests-', 'conda-store-jupyter-ui-test-', 'galata-'];
/** The server roots made by run_test_server.py. */
const ROOT_PATTERN = /\/csj-ui-tests-[^/]+\//;

function kernelsDir() {
  // As jupyter_core.paths.jupyter_data_dir() finds it on Linux, for the environment of the run.
  const home = os.homedir();
  const data =
    process.env.JUPYTER_DATA_DIR ||
    path.join(process.env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'jupyter');
  return path.join(data, 'kernels');
}

function tmpDirs() {
  return [...new Set([os.tmpdir(), '/tmp'].map(d => path.resolve(d)))];
}

function listing() {
  const entries = new Set();
  const add = (dir, keep) => {
    let names = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return; // a missing directory has no entries
    }
    for (const name of names) {
      if (keep(name)) {
        entries.add(path.join(dir, name));
      }
    }
  };
  add(kernelsDir(), () => true);
  for (const dir of tmpDirs()) {
    add(dir, name => TMP_PREFIXES.some(prefix => name.startsWith(prefix)));
  }
  return entries;
}

/**
 * Whether a new kernel spec may be another store's (a server started outside this run that
 * registers its kernels in the same directory): its conda_store marker names a store outside the
 * test server's roots. Anything else new there (no marker, or one of our stores) is a leak.
 */
function othersKernel(entry) {
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(entry, 'kernel.json'), 'utf-8'));
    const storeDir = spec?.metadata?.conda_store?.store_dir;
    return typeof storeDir === 'string' && !ROOT_PATTERN.test(storeDir + '/');
  } catch {
    return false;
  }
}

class LeakCheckReporter {
  constructor() {
    this.before = listing();
  }

  printsToStdio() {
    return false;
  }

  async onEnd() {
    const added = [...listing()].filter(entry => !this.before.has(entry)).sort();
    const inKernels = entry => entry.startsWith(kernelsDir() + path.sep);
    const ignored = added.filter(entry => inKernels(entry) && othersKernel(entry));
    const leaked = added.filter(entry => !ignored.includes(entry));
    if (ignored.length) {
      console.error(`Leak check: ignored new kernel specs of other stores: ${ignored.join(', ')}`);
    }
    if (leaked.length === 0) {
      return;
    }
    console.error(
      [
        '',
        `Leak check: the run left ${leaked.length} new ${leaked.length === 1 ? 'entry' : 'entries'} ` +
          'outside its own directory:',
        ...leaked.map(entry => `  ${entry}`),
        `(watched: ${kernelsDir()}, and ${TMP_PREFIXES.map(p => p + '*').join(' ')} ` +
          `in ${tmpDirs().join(', ')})`,
        ''
      ].join('\n')
    );
    return { status: 'failed' };
  }
}

module.exports = LeakCheckReporter;
