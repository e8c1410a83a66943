'use strict';
// `npm pack` gives a package that installs into an empty folder (offline:
// it has no dependencies) and works there: the agent travels inside kled.node.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const pkgDir = path.resolve(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack installs into an empty folder and works', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-pack-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  const packed = JSON.parse(
    execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: pkgDir, stdio: ['ignore', 'pipe', 'pipe'] })
  )[0];
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'index.d.ts', 'index.js', 'index.mjs', 'kled.node', 'package.json']);
  const tarball = path.join(work, packed.filename);
  assert.ok(fs.existsSync(tarball));
  t.diagnostic(`${packed.filename}: ${(packed.size / 1048576).toFixed(1)} MB packed, ${(packed.unpackedSize / 1048576).toFixed(1)} MB unpacked`);

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const installed = path.join(app, 'node_modules', 'kled');
  assert.ok(!fs.lstatSync(installed).isSymbolicLink(), 'a real copy, not a link to the source tree');
  assert.equal(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'))).types, 'index.d.ts');

  const home = path.join(work, 'h');
  fs.writeFileSync(
    path.join(app, 'main.js'),
    `const kled = require('kled');
     (async () => {
       const m = new kled.Manager({ stateDir: ${JSON.stringify(home)} });
       const t = await m.createTerminal('local', 'packaged');
       await t.start();
       const r = await t.execute('echo "hello from $0"');
       const code = await t.runCode('py', 'print(2 ** 10)');
       await t.remove();
       console.log(JSON.stringify({ stdout: r.stdout, code: code.stdout, resolved: require.resolve('kled') }));
     })().catch((e) => { console.error(e); process.exit(1); });`
  );
  const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: app, timeout: 60_000 }).toString());
  assert.equal(out.stdout, 'hello from /bin/sh\n');
  assert.equal(out.code, '1024\n');
  assert.equal(out.resolved, path.join(installed, 'index.js'), 'the installed copy was used');
  const agents = fs.readdirSync(path.join(home, 'bin'));
  assert.ok(agents.some((f) => f.startsWith('kled-agent-')), `the embedded agent was installed: ${agents}`);
});
