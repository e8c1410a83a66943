'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { kled, setup, tempHome, running } = require('./helpers');

test('Manager', async (t) => {
  const { home, m } = setup(t, 'mgr');

  await t.test('uses the state dir it is given', () => {
    assert.equal(m.stateDir, home);
    assert.ok(fs.existsSync(path.join(home, 'terminals')));
    assert.equal(typeof kled.version, 'string');
    assert.match(kled.version, /^\d+\.\d+\.\d+/);
  });

  await t.test('create, get, list, remove', async () => {
    const a = await m.createTerminal('local', 'alpha', { env: { GREETING: 'hej' } });
    assert.ok(a instanceof kled.Terminal);
    assert.equal(a.name, 'alpha');
    assert.equal(a.kind, 'local');
    assert.equal(await a.state(), 'created', 'createTerminal only creates');

    const again = await m.getTerminal('alpha');
    assert.equal(again.name, 'alpha');
    assert.equal(again.kind, 'local');

    await m.createTerminal('local', 'beta');
    const list = await m.listTerminals();
    assert.deepEqual(list.map((i) => i.name), ['alpha', 'beta']);
    const info = list[0];
    assert.equal(info.kind, 'local');
    assert.equal(info.state, 'created');
    assert.deepEqual(info.options.env, { GREETING: 'hej' });
    assert.ok(info.createdAt instanceof Date);
    assert.ok(Math.abs(info.createdAt.getTime() - Date.now()) < 120_000);

    await a.start();
    assert.equal((await m.listTerminals())[0].state, 'running');
    const r = await a.execute('echo $GREETING');
    assert.equal(r.stdout, 'hej\n', 'terminal options reach commands');

    await m.removeTerminal('alpha');
    await m.removeTerminal('beta');
    assert.deepEqual(await m.listTerminals(), []);
    await assert.rejects(m.getTerminal('alpha'), { code: 'KLED_NOT_FOUND' });
  });

  await t.test('errors are KledError subclasses with a code', async () => {
    await m.createTerminal('local', 'dup');
    const e = await m.createTerminal('local', 'dup').catch((x) => x);
    assert.ok(e instanceof kled.AlreadyExistsError);
    assert.ok(e instanceof kled.KledError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'KLED_ALREADY_EXISTS');
    assert.equal(e.name, 'AlreadyExistsError');
    assert.match(e.message, /"dup" already exists/);
    assert.ok(!e.message.startsWith('KLED_'), 'the code is not left in the message');
    assert.match(e.stack, /AlreadyExistsError/);

    const nf = await m.getTerminal('ghost').catch((x) => x);
    assert.ok(nf instanceof kled.NotFoundError);
    assert.equal(nf.code, 'KLED_NOT_FOUND');
    // The core's hint, as this package's call: a property the addon sets, and the message's end.
    assert.equal(nf.hint, 'manager.listTerminals() shows the terminals that exist');
    assert.ok(nf.message.endsWith(`; ${nf.hint}`) && !/kled terminal/.test(nf.message), nf.message);
    assert.equal(e.hint, null);
    const idle = await m.createTerminal('local', 'idle');
    const st = await idle.execute('true').catch((x) => x);
    assert.ok(st instanceof kled.InvalidStateError);
    assert.equal(st.code, 'KLED_INVALID_STATE');
    assert.equal(st.hint, 'start it with (await manager.getTerminal("idle")).start()');
    await idle.remove();
    // The core's cause, as `cause`: the OS error with its errno.
    const io = (() => {
      try {
        return new kled.Manager({ stateDir: '/dev/null/kled' });
      } catch (x) {
        return x;
      }
    })();
    assert.ok(io instanceof kled.IoError, String(io));
    assert.equal(io.cause && io.cause.errno, 20 /* ENOTDIR */, String(io.cause));
    await assert.rejects(m.removeTerminal('ghost'), kled.NotFoundError);

    for (const bad of ['', 'bad name', '-x', 'a/b', 'x'.repeat(64)]) {
      await assert.rejects(m.createTerminal('local', bad), { code: 'KLED_INVALID_ARGUMENT' }, `name ${JSON.stringify(bad)}`);
    }
    await assert.rejects(m.createTerminal('weird', 'w'), (err) => {
      assert.ok(err instanceof kled.InvalidArgumentError);
      assert.match(err.message, /unknown runtime "weird"; known runtimes: local/);
      return true;
    });
    await assert.rejects(m.createTerminal('local', 'opts', { bogus: 1 }), { code: 'KLED_INVALID_ARGUMENT', message: /bogus/ });
    await assert.rejects(
      m.createTerminal('local', 'noshell', { shell: '/nonexistent/shell' }).then((x) => x.start()),
      { code: 'KLED_RUNTIME_UNAVAILABLE', message: /\/nonexistent\/shell/ }
    );
    // Wrong types never reach the addon: they reject (never throw synchronously).
    const p = m.createTerminal(42, 'x');
    assert.ok(p instanceof Promise);
    await assert.rejects(p, { code: 'KLED_INVALID_ARGUMENT', message: /kind must be a string/ });
    await assert.rejects(m.getTerminal(), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(m.createTerminal('local', 'o2', ['not', 'an', 'object']), { code: 'KLED_INVALID_ARGUMENT' });
    assert.throws(() => new kled.Terminal({}, null), TypeError);
  });

  await t.test('one error class and code per core error kind', () => {
    const expected = {
      NotFoundError: 'KLED_NOT_FOUND',
      AlreadyExistsError: 'KLED_ALREADY_EXISTS',
      InvalidArgumentError: 'KLED_INVALID_ARGUMENT',
      RuntimeUnavailableError: 'KLED_RUNTIME_UNAVAILABLE',
      InvalidStateError: 'KLED_INVALID_STATE',
      TimeoutError: 'KLED_TIMEOUT',
      AgentError: 'KLED_AGENT',
      IoError: 'KLED_IO',
      ConfigError: 'KLED_CONFIG',
    };
    for (const [name, code] of Object.entries(expected)) {
      const e = new kled[name]('boom');
      assert.ok(e instanceof kled.KledError && e instanceof Error, name);
      assert.equal(e.code, code);
      assert.equal(e.name, name);
      assert.equal(e.message, 'boom');
    }
  });

  await t.test('bulk creation: PREFIX-1..N, started, all or nothing', async () => {
    const ts = await m.createBulkTerminals('local', 3, { prefix: 'w', start: true, options: { env: { ROLE: 'worker' } } });
    assert.deepEqual(ts.map((x) => x.name), ['w-1', 'w-2', 'w-3']);
    const outs = await Promise.all(ts.map((x) => x.execute('echo $ROLE')));
    assert.deepEqual(outs.map((r) => r.stdout), ['worker\n', 'worker\n', 'worker\n']);
    assert.deepEqual(await Promise.all(ts.map((x) => x.state())), ['running', 'running', 'running']);

    // One name taken: nothing is made.
    await m.createTerminal('local', 'v-2');
    await assert.rejects(m.createBulkTerminals('local', 3, { prefix: 'v' }), { code: 'KLED_ALREADY_EXISTS', message: /v-2/ });
    const names = (await m.listTerminals()).map((i) => i.name);
    assert.ok(!names.includes('v-1') && !names.includes('v-3'), names.join(','));

    const unstarted = await m.createBulkTerminals('local', 2, { prefix: 'u', concurrency: 1 });
    assert.deepEqual(await Promise.all(unstarted.map((x) => x.state())), ['created', 'created']);
    await assert.rejects(m.createBulkTerminals('local', 0), { code: 'KLED_INVALID_ARGUMENT' });
    // The core's bulk rule: concurrency 0 is refused, not raised to 1.
    await assert.rejects(m.createBulkTerminals('local', 2, { prefix: 'z', concurrency: 0 }), {
      code: 'KLED_INVALID_ARGUMENT',
      message: /concurrency must be at least 1/,
    });
    await assert.rejects(m.createBulkTerminals('local', 2.5), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(m.createBulkTerminals('local', 2, { prefx: 'p' }), { code: 'KLED_INVALID_ARGUMENT', message: /prefx/ });
    for (const x of [...ts, ...unstarted]) await x.remove();
  });

  await t.test('providers lists every runtime; local is available', async () => {
    const ps = await m.providers();
    const kinds = ps.map((p) => p.kind);
    for (const k of ['local', 'container', 'gvisor', 'kata', 'neovim', 'neovim-kata']) {
      assert.ok(kinds.includes(k), `providers lists ${k}`);
    }
    const local = ps.find((p) => p.kind === 'local');
    assert.equal(local.available, true);
    assert.deepEqual(local.caps, { tty: true, signals: true, editor: false, isolated: false, sessions: false, files: true });
    assert.equal(ps.find((p) => p.kind === 'neovim').caps.editor, true);
    assert.equal(typeof local.description, 'string');
    assert.equal(typeof local.needs, 'string');
    for (const p of ps) {
      if (!p.available) assert.equal(typeof p.reason, 'string', `${p.kind} says why it is unavailable`);
    }
  });

  await t.test('config: an object, a file, errors named', async () => {
    const home2 = tempHome('cfg');
    try {
      const m2 = new kled.Manager({ stateDir: home2, config: { librechat: { base_url: 'http://127.0.0.1:9/v1' } } });
      assert.equal(m2.stateDir, home2);
      m2.close();
      assert.throws(() => new kled.Manager({ stateDir: home2, config: { bogus: 1 } }), (e) => {
        assert.ok(e instanceof kled.ConfigError);
        assert.equal(e.code, 'KLED_CONFIG');
        assert.match(e.message, /bogus/);
        return true;
      });
      const file = path.join(home2, 'config.yaml');
      fs.writeFileSync(file, 'kata:\n  timeout: 5\n');
      new kled.Manager({ stateDir: home2, config: file }).close();
      fs.writeFileSync(file, 'coder:\n  tokn: x\n');
      assert.throws(() => new kled.Manager({ stateDir: home2, config: file }), { code: 'KLED_CONFIG', message: /tokn/ });
      assert.throws(() => new kled.Manager({ stateDir: home2, config: path.join(home2, 'missing.yaml') }), {
        code: 'KLED_CONFIG',
      });
      assert.throws(() => new kled.Manager({ stateDir: 7 }), { code: 'KLED_INVALID_ARGUMENT' });
      assert.throws(() => new kled.Manager({ state_dir: home2 }), { code: 'KLED_INVALID_ARGUMENT', message: /state_dir/ });
    } finally {
      fs.rmSync(home2, { recursive: true, force: true });
    }
  });

  await t.test('the default state dir is $KLED_HOME', async () => {
    const home3 = tempHome('env');
    const saved = process.env.KLED_HOME;
    process.env.KLED_HOME = home3;
    try {
      const m3 = new kled.Manager();
      assert.equal(m3.stateDir, home3);
      m3.close();
    } finally {
      if (saved === undefined) delete process.env.KLED_HOME;
      else process.env.KLED_HOME = saved;
      fs.rmSync(home3, { recursive: true, force: true });
    }
  });

  await t.test('an unreadable record is skipped with a warning', async () => {
    const t1 = await m.createTerminal('local', 'fine');
    fs.writeFileSync(path.join(home, 'terminals', 'broken.json'), '{not json');
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const names = (await m.listTerminals()).map((i) => i.name);
      assert.ok(names.includes('fine') && !names.includes('broken'), names.join(','));
      await new Promise((r) => setImmediate(r));
      assert.ok(warnings.some((w) => w.code === 'KLED_BAD_RECORD' && /broken/.test(w.message)), 'a warning names it');
    } finally {
      process.off('warning', onWarning);
      fs.rmSync(path.join(home, 'terminals', 'broken.json'));
      await t1.remove();
    }
  });

  await t.test('close() releases the manager; its terminals stay usable', async () => {
    const home4 = tempHome('close');
    const m4 = new kled.Manager({ stateDir: home4 });
    try {
      const t4 = await running(m4, 'keep');
      m4.close();
      assert.equal(m4.closed, true);
      await assert.rejects(m4.listTerminals(), { code: 'KLED_INVALID_STATE', message: /closed/ });
      await assert.rejects(m4.getTerminal('keep'), kled.InvalidStateError);
      assert.equal((await t4.execute('echo still')).stdout, 'still\n');
      await t4.remove();
    } finally {
      fs.rmSync(home4, { recursive: true, force: true });
    }
  });
});
