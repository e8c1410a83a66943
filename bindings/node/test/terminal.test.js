'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const { kled, setup, running } = require('./helpers');

// Is a process alive (as seen from inside the terminal, i.e. this host)?
async function alive(t, pid) {
  return (await t.execute(['kill', '-0', String(pid)])).exitCode === 0;
}

async function waitDead(t, pid, ms = 3000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await alive(t, pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('Terminal', async (t) => {
  const { m, home } = setup(t, 'term');

  await t.test('lifecycle: create, start, stop, start, info; files survive stop', async () => {
    const x = await m.createTerminal('local', 'life');
    assert.equal(await x.state(), 'created');
    await assert.rejects(x.execute('true'), (e) => {
      assert.ok(e instanceof kled.InvalidStateError);
      assert.equal(e.code, 'KLED_INVALID_STATE');
      assert.match(e.message, /"life" is created; start it/);
      return true;
    });
    await x.start();
    await x.start(); // idempotent
    assert.equal(await x.state(), 'running');
    await x.writeFile('kept.txt', 'still here');
    await x.stop();
    await x.stop(); // idempotent
    assert.equal(await x.state(), 'stopped');
    await assert.rejects(x.execute('true'), { code: 'KLED_INVALID_STATE', message: /stopped/ });
    await x.start();
    assert.equal(await x.readFile('kept.txt', 'utf8'), 'still here');
    const info = await x.info();
    assert.equal(info.name, 'life');
    assert.equal(info.kind, 'local');
    assert.equal(info.state, 'running');
    assert.ok(info.createdAt instanceof Date);
    await x.remove();
    await assert.rejects(x.state(), { code: 'KLED_NOT_FOUND' });
    await assert.rejects(m.getTerminal('life'), kled.NotFoundError);
  });

  const sh = await running(m, 'sh');

  await t.test('execute: a string runs in the shell, an array runs as argv', async () => {
    const r = await sh.execute('echo $((40 + 2)); echo oops >&2; exit 3');
    assert.ok(r instanceof kled.ExecResult);
    assert.equal(r.stdout, '42\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.exitCode, 3, 'a non-zero exit is a result, not an error');
    assert.equal(r.signal, null);
    assert.equal(r.timedOut, false);
    assert.equal(r.truncated, false);
    assert.equal(r.ok, false);
    assert.equal(typeof r.duration, 'number');
    assert.ok(r.duration > 0 && r.duration < 10_000, `duration ${r.duration} ms`);
    assert.ok(Buffer.isBuffer(r.stdoutBytes) && Buffer.isBuffer(r.stderrBytes));
    assert.deepEqual(r.stdoutBytes, Buffer.from('42\n'));

    const a = await sh.execute(['printf', '%s|', 'a b', '$HOME', '*']);
    assert.equal(a.stdout, 'a b|$HOME|*|', 'argv is not interpreted by a shell');
    assert.equal(a.exitCode, 0);
    assert.equal(a.ok, true);

    const missing = await sh.execute(['no-such-program-kled']);
    assert.equal(missing.exitCode, 127);
    assert.match(missing.stderr, /no-such-program-kled/);
  });

  await t.test('execute: env, cwd, stdin', async () => {
    const r = await sh.execute('echo "$A-$B"; pwd', { env: { A: 'x y', B: 7 }, cwd: '/tmp' });
    assert.equal(r.stdout, 'x y-7\n/tmp\n');
    const home = await sh.execute('pwd');
    assert.ok(home.stdout.startsWith(m.stateDir), `default cwd ${home.stdout} is the terminal's own`);

    assert.equal((await sh.execute('tr a-z A-Z', { stdin: 'shout\n' })).stdout, 'SHOUT\n');
    const bin = Buffer.from([0, 1, 2, 255, 254, 10]);
    const echoed = await sh.execute(['cat'], { stdin: bin });
    assert.deepEqual(echoed.stdoutBytes, bin);
    assert.deepEqual((await sh.execute('cat', { stdin: new Uint8Array([104, 105]) })).stdout, 'hi');
    // Without stdin, stdin is empty (cat does not wait).
    assert.equal((await sh.execute('cat', { timeout: 5000 })).timedOut, false);
  });

  await t.test('unicode and binary output', async () => {
    const text = 'héllo wörld ✓ 日本語 🚀';
    const r = await sh.execute(['printf', '%s\\n', text]);
    assert.equal(r.stdout, `${text}\n`);
    assert.equal(r.stdoutBytes.length, Buffer.byteLength(`${text}\n`));
    const env = await sh.execute('printf %s "$ÜBER"', { env: { ÜBER: 'ünïcødé' } });
    assert.equal(env.exitCode, 0);
    assert.equal((await sh.execute(['sh', '-c', 'printf %s "$1"', 'sh', text])).stdout, text);

    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    await sh.writeFile('bytes.bin', all);
    const b = await sh.execute('cat bytes.bin; cat bytes.bin >&2');
    assert.deepEqual(b.stdoutBytes, all, 'every byte value comes through stdout');
    assert.deepEqual(b.stderrBytes, all, 'and stderr');
    assert.ok(b.stdout.includes('\ufffd'), 'invalid UTF-8 decodes to U+FFFD in .stdout');

    const big = await sh.execute(['head', '-c', String(5 << 20), '/dev/urandom']);
    assert.equal(big.stdoutBytes.length, 5 << 20);
    assert.equal(big.truncated, false);
  });

  await t.test('signals and timeouts', async () => {
    const k = await sh.execute('kill -9 $$');
    assert.equal(k.exitCode, null);
    assert.equal(k.signal, 'SIGKILL');
    assert.equal(k.ok, false);

    const started = Date.now();
    const r = await sh.execute('echo before; sleep 10 & echo $!; wait; echo after', { timeout: 400 });
    const took = Date.now() - started;
    assert.equal(r.timedOut, true);
    assert.equal(r.ok, false);
    const [before, pid] = r.stdout.trim().split('\n');
    assert.equal(before, 'before', 'the output so far is kept');
    assert.ok(!r.stdout.includes('after'));
    assert.ok(took < 4000, `returned after ${took} ms`);
    assert.ok(r.duration >= 350 && r.duration < 4000, `duration ${r.duration}`);
    assert.ok(await waitDead(sh, pid), `the background child ${pid} was killed with the process group`);

    await assert.rejects(sh.execute('true', { timeout: -1 }), { code: 'KLED_INVALID_ARGUMENT', message: /timeout/ });
    await assert.rejects(sh.execute('true', { timeout: 0 }), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.execute('true', { timeout: 'soon' }), { code: 'KLED_INVALID_ARGUMENT' });
  });

  await t.test('output past maxOutput is dropped and flagged', async () => {
    const r = await sh.execute(['head', '-c', '100000', '/dev/zero'], { maxOutput: 1000 });
    assert.equal(r.truncated, true);
    assert.equal(r.stdoutBytes.length, 1000);
    assert.equal(r.exitCode, 0);
    await assert.rejects(sh.execute('true', { maxOutput: 1.5 }), { code: 'KLED_INVALID_ARGUMENT' });
  });

  await t.test('bad commands are rejected with KLED_INVALID_ARGUMENT', async () => {
    for (const bad of ['', '   ', [], [''], 42, null, ['ok', 1], { cmd: 'x' }, 'a\0b']) {
      const p = sh.execute(bad);
      assert.ok(p instanceof Promise, 'never throws synchronously');
      await assert.rejects(p, (e) => e instanceof kled.InvalidArgumentError && e.code === 'KLED_INVALID_ARGUMENT', util.inspect(bad));
    }
    await assert.rejects(sh.execute('true', { env: { 'A=B': 'x' } }), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.execute('true', { stdin: 12 }), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.execute('true', 'options'), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.execute('sleep 1', { timout: 10 }), {
      code: 'KLED_INVALID_ARGUMENT',
      message: /unknown execute options: timout \(known: timeout, cwd/,
    });
    await assert.rejects(sh.runCode('py', 'x', { timeoutMs: 1 }), { code: 'KLED_INVALID_ARGUMENT', message: /timeoutMs/ });
  });

  await t.test('check() and how results print', async () => {
    const good = await sh.execute('echo fine');
    assert.equal(good.check(), good);
    const bad = await sh.execute('echo broken >&2; exit 5');
    assert.throws(() => bad.check(), (e) => {
      assert.ok(e instanceof kled.InvalidStateError);
      assert.match(e.message, /exited with status 5: broken/);
      assert.equal(e.result, bad);
      return true;
    });
    const slow = await sh.execute('sleep 5', { timeout: 200 });
    assert.throws(() => slow.check(), /timed out/);
    assert.deepEqual(JSON.parse(JSON.stringify(good)), {
      stdout: 'fine\n',
      stderr: '',
      exitCode: 0,
      signal: null,
      timedOut: false,
      truncated: false,
      duration: good.duration,
    });
    assert.match(util.inspect(good), /ExecResult \{[\s\S]*stdout: 'fine\\n'/);
    assert.match(util.inspect(sh), /Terminal \{ name: 'sh', kind: 'local' \}/);
  });

  await t.test('runCode', async () => {
    const py = await sh.runCode('py', 'import sys\nprint(6 * 7, sys.argv[1:], sys.stdin.read())', {
      args: ['a', 'b'],
      stdin: 'in',
    });
    assert.equal(py.stdout, "42 ['a', 'b'] in\n", py.stderr);
    assert.equal((await sh.runCode('python', 'print("ünï")')).stdout, 'ünï\n');
    assert.equal((await sh.runCode('sh', 'echo $((6*7))')).stdout, '42\n');
    assert.equal((await sh.runCode('js', 'console.log([1,2].map(x => x * 2).join(","))')).stdout, '2,4\n');
    const failing = await sh.runCode('py', 'raise SystemExit(4)');
    assert.equal(failing.exitCode, 4);
    const slow = await sh.runCode('sh', 'sleep 5', { timeout: 200 });
    assert.equal(slow.timedOut, true);
    await assert.rejects(sh.runCode('cobol', 'DISPLAY 1'), { code: 'KLED_INVALID_ARGUMENT', message: /supported: py/ });
    await assert.rejects(sh.runCode('py', 'x', { args: [1] }), { code: 'KLED_INVALID_ARGUMENT' });
  });

  await t.test('files: write, read, list, modes, errors', async () => {
    await sh.writeFile('notes/deep/a.txt', 'data ✓');
    assert.deepEqual(await sh.readFile('notes/deep/a.txt'), Buffer.from('data ✓'));
    assert.equal(await sh.readFile('notes/deep/a.txt', 'utf8'), 'data ✓');
    assert.equal(await sh.readFile('notes/deep/a.txt', { encoding: 'hex' }), Buffer.from('data ✓').toString('hex'));
    assert.equal((await sh.execute('cat notes/deep/a.txt')).stdout, 'data ✓', 'relative paths are from the working dir');

    const bin = Buffer.from([0, 255, 0, 128, 10, 13]);
    await sh.writeFile('b.bin', bin);
    assert.deepEqual(await sh.readFile('b.bin'), bin);
    await sh.writeFile('u8.bin', new Uint8Array([1, 2, 3]));
    assert.deepEqual(await sh.readFile('u8.bin'), Buffer.from([1, 2, 3]));
    await sh.writeFile('empty', '');
    assert.equal((await sh.readFile('empty')).length, 0);

    await sh.writeFile('run.sh', '#!/bin/sh\necho ran\n', { mode: 0o755 });
    assert.equal((await sh.execute('./run.sh')).stdout, 'ran\n');
    const abs = `${m.stateDir}/abs-${process.pid}.txt`;
    await sh.writeFile(abs, 'absolute');
    assert.equal(await sh.readFile(abs, 'utf8'), 'absolute');

    const entries = await sh.listDir('.');
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    assert.equal(byName['run.sh'].kind, 'file');
    assert.equal(byName['run.sh'].mode & 0o777, 0o755);
    assert.equal(byName['b.bin'].size, bin.length);
    assert.equal(byName.notes.kind, 'dir');
    // Written a moment ago: within a minute of now (ms since the epoch, as fs.Stats.mtimeMs).
    assert.ok(Math.abs(byName['run.sh'].mtimeMs - Date.now()) < 60_000, `mtimeMs ${byName['run.sh'].mtimeMs}`);

    await assert.rejects(sh.readFile('missing.txt'), (e) => e instanceof kled.NotFoundError && /missing\.txt/.test(e.message));
    await assert.rejects(sh.listDir('/nonexistent-kled-dir'), kled.NotFoundError);
    await assert.rejects(sh.writeFile('x', 'y', { mode: 0o10000 }), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.writeFile('x', 12), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(sh.readFile(''), { code: 'KLED_INVALID_ARGUMENT' });
  });

  await t.test('execStream: events as they happen, in order', async () => {
    const events = [];
    const started = Date.now();
    for await (const ev of sh.execStream('echo one; sleep 0.3; echo two >&2; echo three; exit 4')) {
      events.push({ ...ev, at: Date.now() - started });
    }
    const out = events.filter((e) => e.type === 'stdout').map((e) => e.data.toString()).join('');
    const err = events.filter((e) => e.type === 'stderr').map((e) => e.data.toString()).join('');
    assert.equal(out, 'one\nthree\n');
    assert.equal(err, 'two\n');
    const exit = events.at(-1);
    assert.equal(exit.type, 'exit');
    assert.equal(exit.exitCode, 4);
    assert.equal(exit.signal, null);
    assert.equal(exit.timedOut, false);
    assert.ok(exit.duration >= 250, `duration ${exit.duration}`);
    assert.equal(events.filter((e) => e.type === 'exit').length, 1);
    const first = events.find((e) => e.type === 'stdout');
    assert.ok(first.at < exit.at - 200, `the first chunk came ${first.at} ms in, before the exit at ${exit.at} ms`);
    assert.ok(Buffer.isBuffer(first.data));
  });

  await t.test('execStream: leaving the loop kills the command', async () => {
    let pid;
    for await (const ev of sh.execStream('echo $$; exec sleep 30')) {
      if (ev.type === 'stdout') {
        pid = Number(ev.data.toString().trim());
        break;
      }
    }
    assert.ok(pid > 0);
    assert.ok(await waitDead(sh, pid), `process ${pid} was killed when the loop ended`);
  });

  await t.test('execStream: kill(), timeouts, argv, stdin, errors', async () => {
    const s = sh.execStream(['sh', '-c', 'echo ready; exec sleep 30']);
    const first = await s.next();
    assert.equal(first.value.type, 'stdout');
    await s.kill('SIGTERM');
    let last;
    for await (const ev of s) last = ev;
    assert.equal(last.type, 'exit');
    assert.equal(last.signal, 'SIGTERM');
    assert.equal(last.exitCode, null);
    assert.deepEqual(await s.next(), { value: undefined, done: true });

    // kill() and close() while a next() is waiting for output.
    const w = sh.execStream('exec sleep 30');
    const pending = w.next();
    await new Promise((r) => setTimeout(r, 200));
    await w.kill('SIGINT');
    const ended = await pending;
    assert.equal(ended.value.type, 'exit');
    assert.equal(ended.value.signal, 'SIGINT');
    const w2 = sh.execStream('echo $$ > waiting.pid; exec sleep 30');
    const pending2 = w2.next();
    await new Promise((r) => setTimeout(r, 300));
    w2.close();
    assert.deepEqual(await pending2, { value: undefined, done: true });
    const wpid = Number((await sh.readFile('waiting.pid', 'utf8')).trim());
    assert.ok(await waitDead(sh, wpid), `process ${wpid} was killed by close() during next()`);
    assert.equal(await w.kill(9), undefined, 'signalling a finished command is a no-op');

    const timed = [];
    for await (const ev of sh.execStream('echo t; sleep 10', { timeout: 300 })) timed.push(ev);
    assert.equal(timed.at(-1).timedOut, true);

    const fed = [];
    for await (const ev of sh.execStream('cat', { stdin: 'piped' })) fed.push(ev);
    assert.equal(fed.filter((e) => e.type === 'stdout').map((e) => e.data.toString()).join(''), 'piped');

    const stopped = await m.createTerminal('local', 'never-started');
    const bad = stopped.execStream('true');
    await assert.rejects(bad.next(), { code: 'KLED_INVALID_STATE' });
    assert.deepEqual(await bad.next(), { value: undefined, done: true }, 'reported once');
    const late = stopped.execStream('true');
    await new Promise((r) => setTimeout(r, 100)); // the start has failed by now
    await assert.rejects(late.next(), { code: 'KLED_INVALID_STATE' }, 'a failed start is never swallowed');
    await assert.rejects(sh.execStream('').next(), { code: 'KLED_INVALID_ARGUMENT' });
    await assert.rejects(s.kill('SIGNOPE'), { code: 'KLED_INVALID_ARGUMENT' });

    // close() before reading anything: the command is killed, iteration ends.
    const c = sh.execStream('echo $$ > stream.pid; exec sleep 30');
    await new Promise((r) => setTimeout(r, 300));
    c.close();
    assert.deepEqual(await c.next(), { value: undefined, done: true });
    const pid = Number((await sh.readFile('stream.pid', 'utf8')).trim());
    assert.ok(await waitDead(sh, pid), `closed stream's process ${pid} was killed`);
  });

  await t.test('a dead agent: the pending call rejects with AgentError, the next one restarts it', async () => {
    const y = await running(m, 'fragile');
    const agent = Number((await y.execute('echo $PPID')).stdout);
    const pending = y.execute('sleep 5');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(agent, 'SIGKILL');
    await assert.rejects(pending, (e) => {
      assert.ok(e instanceof kled.AgentError);
      assert.equal(e.code, 'KLED_AGENT');
      assert.match(e.message, /lost the connection to the agent/);
      return true;
    });
    const r = await y.execute('echo back; echo $PPID');
    const [word, pid] = r.stdout.trim().split('\n');
    assert.equal(word, 'back');
    assert.notEqual(Number(pid), agent, 'a new agent serves the terminal');
    await y.remove();
  });

  await t.test('close(): this handle only', async () => {
    const disposable = await m.getTerminal('sh');
    disposable[Symbol.dispose](); // what `using` calls
    assert.equal(disposable.closed, true);
    const other = await m.getTerminal('sh');
    other.close();
    assert.equal(other.closed, true);
    other.close(); // twice is fine
    await assert.rejects(other.execute('true'), (e) => {
      assert.ok(e instanceof kled.InvalidStateError);
      assert.match(e.message, /"sh" was closed/);
      return true;
    });
    await assert.rejects(other.state(), { code: 'KLED_INVALID_STATE' });
    assert.equal(other.name, 'sh', 'name and kind stay readable');
    assert.equal((await sh.execute('echo alive')).stdout, 'alive\n', 'the terminal and other handles are untouched');
    assert.equal(await sh.state(), 'running');
    assert.ok(home);
  });
});

test('pseudo-terminals and open stdin', async (t) => {
  const { m } = setup(t, 'tty');
  const term = await running(m, 'tty');
  const r = await term.execute('test -t 1 && stty size; echo e >&2', { tty: { rows: 30, cols: 100 } });
  assert.equal(r.stdout, '30 100\r\ne\r\n');
  assert.equal(r.stderr, '');
  await assert.rejects(term.execute('true', { tty: { rows: 0, cols: 80 } }), kled.InvalidArgumentError);
  await assert.rejects(term.execute('true', { stdinOpen: true }), kled.InvalidArgumentError);

  const s = term.execStream('read a; echo got:$a; sleep 0.5; stty size', { tty: { rows: 24, cols: 80 }, stdinOpen: true });
  await s.write('hi\n');
  await s.resize(40, 120);
  let out = '';
  for await (const ev of s) if (ev.type === 'stdout') out += ev.data.toString();
  assert.match(out, /got:hi\r\n/);
  assert.ok(out.endsWith('40 120\r\n'), out);

  const p = term.execStream('cat; echo done', { stdinOpen: true });
  await p.write(Buffer.from('one '));
  await p.write('two\n');
  await p.closeStdin();
  let piped = '';
  for await (const ev of p) if (ev.type === 'stdout') piped += ev.data.toString();
  assert.equal(piped, 'one two\ndone\n');
});
