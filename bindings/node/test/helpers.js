'use strict';
// Shared by the tests: a private state dir per test file, and cleanup that
// removes every terminal made in it (local terminals are daemons).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const kled = require('..');

// Short paths: a terminal's agent socket lives under the state dir.
function tempHome(tag = 't') {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kn-${tag}-`));
}

async function removeAll(home) {
  const m = new kled.Manager({ stateDir: home });
  for (const info of await m.listTerminals()) {
    await m.removeTerminal(info.name).catch(() => {});
  }
  m.close();
}

// A Manager on a fresh state dir; `after` removes every terminal and the dir.
function setup(test, tag) {
  const home = tempHome(tag);
  const m = new kled.Manager({ stateDir: home });
  test.after(async () => {
    await removeAll(home);
    m.close();
    fs.rmSync(home, { recursive: true, force: true });
  });
  return { home, m };
}

async function running(m, name, options) {
  const t = await m.createTerminal('local', name, options);
  await t.start();
  return t;
}

const repo = path.resolve(__dirname, '..', '..', '..');

// The kled CLI: $KLED_CLI, else the workspace's debug or release build.
function cliPath() {
  const candidates = [process.env.KLED_CLI, path.join(repo, 'target/debug/kled'), path.join(repo, 'target/release/kled')];
  const found = candidates.find((p) => p && fs.existsSync(p));
  if (!found) {
    throw new Error('the kled CLI is not built: run `cargo build -p kled-cli` (or set KLED_CLI)');
  }
  return found;
}

module.exports = { kled, tempHome, removeAll, setup, running, cliPath, repo };
