'use strict';
// runCode(..., { remote: true }): code run on a Code Interpreter API, here a
// real `kled serve codeapi` (gVisor sandboxes) started for this file.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { kled, tempHome, removeAll, cliPath } = require('./helpers');

const KEY = 'node-remote-key-3';
const GVISOR = '/run/kled/gvisor.sock';

async function startServer(t) {
  const home = tempHome('codeapi');
  const config = path.join(home, 'config.yaml');
  fs.writeFileSync(config, 'codeapi:\n  sessions: { warm: 1, max_sandboxes: 3 }\n  rate_limit: { requests: 0 }\n');
  const server = spawn(cliPath(), ['serve', 'codeapi', '--listen', '127.0.0.1:0', '--config', config], {
    env: { ...process.env, KLED_HOME: path.join(home, 'server'), KLED_CODEAPI_KEYS: KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = readline.createInterface({ input: server.stderr });
  const first = await new Promise((resolve) => lines.once('line', resolve));
  lines.on('line', () => {});
  const url = first.split(/\s+/).find((w) => w.startsWith('http://'));
  assert.ok(url, `server did not start: ${first}`);
  t.after(async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
    fs.rmSync(home, { recursive: true, force: true });
  });
  return url;
}

function remoteManager(t, url, key = KEY) {
  const home = tempHome('remote');
  const m = new kled.Manager({ stateDir: home, config: { librechat: { base_url: url, api_key: key } } });
  t.after(async () => {
    await removeAll(home);
    m.close();
    fs.rmSync(home, { recursive: true, force: true });
  });
  return m;
}

test('remote runs against kled serve codeapi', async (t) => {
  if (!fs.existsSync(GVISOR)) {
    assert.notEqual(process.env.KLED_REQUIRE_ENGINE, '1', `${GVISOR} is required`);
    t.skip(`${GVISOR} is not served (scripts/engine.sh setup starts it)`);
    return;
  }
  const url = await startServer(t);

  await t.test('a terminal keeps its remote session: files carry over', async () => {
    const m = remoteManager(t, url);
    const term = await m.createTerminal('local', 'remote'); // never started
    let r = await term.runCode('python', "open('n.txt','w').write('kept'); print(6*7)", { remote: true });
    assert.equal(r.stdout, '42\n');
    assert.equal(r.exitCode, 0);
    r = await term.runCode('py', "print(open('n.txt').read())", { remote: true });
    assert.equal(r.stdout, 'kept\n', r.stderr);
    r = await term.runCode('bash', 'echo $1 >&2; exit 3', { remote: true, args: ['e'] });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stderr, 'e\n');
  });

  await t.test('errors are kled errors with codes, and the key never shows', async () => {
    const m = remoteManager(t, url);
    const term = await m.createTerminal('local', 're');
    await assert.rejects(term.runCode('cobol', 'x', { remote: true }), (e) => e instanceof kled.InvalidArgumentError);
    await assert.rejects(term.runCode('py', 'x', { remote: 'yes' }), (e) => e instanceof kled.InvalidArgumentError && /remote must be a boolean/.test(e.message));
    const bad = await remoteManager(t, url, 'wrong-key').createTerminal('local', 'rk');
    await assert.rejects(bad.runCode('py', '1', { remote: true }), (e) => {
      assert.equal(e.code, 'KLED_CONFIG');
      assert.match(e.message, /LIBRECHAT_CODE_API_KEY/);
      assert.doesNotMatch(e.message, /wrong-key/);
      return true;
    });
  });
});

test('an unreachable Code Interpreter says where to look', async (t) => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const m = remoteManager(t, `http://127.0.0.1:${port}/v1`);
  const term = await m.createTerminal('local', 'ru');
  await assert.rejects(term.runCode('py', '1', { remote: true }), (e) => e instanceof kled.RuntimeUnavailableError && /LIBRECHAT_CODE_BASEURL/.test(e.message));
});
