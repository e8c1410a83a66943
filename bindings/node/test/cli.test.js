'use strict';
// Terminals are shared through the state dir: what Node makes, the kled CLI
// sees, and the other way round.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { setup, running, cliPath } = require('./helpers');

function cli(home, args, input) {
  return new Promise((resolve) => {
    const child = execFile(cliPath(), args, { env: { ...process.env, KLED_HOME: home }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    if (input != null) child.stdin.end(input);
  });
}

async function cliOk(home, args) {
  const r = await cli(home, args);
  assert.equal(r.code, 0, `kled ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

test('cross-process visibility with the kled CLI', async (t) => {
  const { m, home } = setup(t, 'cli');

  await t.test('a terminal made in Node is listed and used by the CLI', async () => {
    const x = await running(m, 'from-node', { env: { MADE_BY: 'node' } });
    await x.writeFile('hello.txt', 'from node ✓');
    const list = JSON.parse((await cliOk(home, ['terminal', 'list', '--json'])).stdout);
    const entry = list.find((e) => e.name === 'from-node');
    assert.ok(entry, `listed: ${JSON.stringify(list)}`);
    assert.equal(entry.kind, 'local');
    assert.equal(entry.state, 'running');

    const r = await cliOk(home, ['terminal', 'exec', 'from-node', 'cat hello.txt; echo " $MADE_BY"']);
    assert.equal(r.stdout, 'from node ✓ node\n');
    const status = await cli(home, ['terminal', 'exec', 'from-node', 'exit 7']);
    assert.equal(status.code, 7, 'the CLI exits with the command status');

    await cliOk(home, ['terminal', 'stop', 'from-node']);
    assert.equal(await x.state(), 'stopped', 'Node reads the state the CLI wrote');
    await assert.rejects(x.execute('true'), { code: 'KLED_INVALID_STATE' });
    await x.start();
    assert.equal((await x.execute('cat hello.txt')).stdout, 'from node ✓');
  });

  await t.test('a terminal made by the CLI is found and used from Node', async () => {
    await cliOk(home, ['terminal', 'create', 'from-cli', '--opt', 'env.MADE_BY=cli']);
    const names = (await m.listTerminals()).map((i) => i.name);
    assert.ok(names.includes('from-cli'), names.join(','));
    const y = await m.getTerminal('from-cli');
    assert.equal(y.kind, 'local');
    assert.equal(await y.state(), 'running', 'the CLI create also starts it');
    await cliOk(home, ['terminal', 'exec', 'from-cli', 'echo cli-wrote > shared.txt']);
    const r = await y.execute('cat shared.txt; echo $MADE_BY');
    assert.equal(r.stdout, 'cli-wrote\ncli\n');
    // Both talk to the same agent: the same daemon pid is reported to both.
    const viaNode = (await y.execute('echo $PPID')).stdout;
    const viaCli = (await cliOk(home, ['terminal', 'exec', 'from-cli', 'echo $PPID'])).stdout;
    assert.equal(viaNode, viaCli, 'the same agent runs commands for Node and the CLI');

    await m.removeTerminal('from-cli');
    const after = JSON.parse((await cliOk(home, ['terminal', 'list', '--json'])).stdout);
    assert.ok(!after.some((e) => e.name === 'from-cli'), 'removed from Node: gone for the CLI');
    const gone = await cli(home, ['terminal', 'exec', 'from-cli', 'true']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /no terminal named "from-cli"/);
  });

  await t.test('the CLI removes what Node made', async () => {
    await m.createTerminal('local', 'doomed');
    await cliOk(home, ['terminal', 'rm', 'doomed']);
    await assert.rejects(m.getTerminal('doomed'), { code: 'KLED_NOT_FOUND' });
  });
});
