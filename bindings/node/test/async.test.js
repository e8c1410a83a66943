'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { setup, running } = require('./helpers');

test('async behaviour', async (t) => {
  const { m } = setup(t, 'async');
  const x = await running(m, 'conc');

  await t.test('100 concurrent execs with Promise.all', async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => x.execute(`echo ${i}; echo e${i} >&2; exit $((${i} % 7))`))
    );
    const took = Date.now() - started;
    results.forEach((r, i) => {
      assert.equal(r.stdout, `${i}\n`, 'each result belongs to its own command');
      assert.equal(r.stderr, `e${i}\n`);
      assert.equal(r.exitCode, i % 7);
    });
    // They overlap: 100 commands that sleep 0.3 s each finish far sooner than 30 s.
    const sleepy = Date.now();
    const slept = await Promise.all(Array.from({ length: 100 }, () => x.execute('sleep 0.3; echo z')));
    const sleptTook = Date.now() - sleepy;
    assert.ok(slept.every((r) => r.stdout === 'z\n'));
    assert.ok(sleptTook < 10_000, `100 x sleep 0.3 took ${sleptTook} ms: they ran concurrently`);
    t.diagnostic(`100 concurrent echo: ${took} ms; 100 concurrent sleep 0.3: ${sleptTook} ms`);
  });

  await t.test('the event loop keeps turning while a 2 s command runs', async () => {
    const ticks = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const started = performance.now();
    const r = await x.execute('sleep 2; echo done');
    const took = performance.now() - started;
    clearInterval(timer);
    assert.equal(r.stdout, 'done\n');
    assert.ok(took >= 1900, `the command ran ${took} ms`);
    // 10 ms interval over 2 s: ~200 ticks if the loop is free, none if it were
    // blocked; a loaded 2-core machine gave 77, so the bar is well below that.
    assert.ok(ticks.length >= 40, `${ticks.length} ticks in ${Math.round(took)} ms`);
    let worst = ticks[0] - started;
    for (let i = 1; i < ticks.length; i++) worst = Math.max(worst, ticks[i] - ticks[i - 1]);
    assert.ok(worst < 250, `longest gap between ticks: ${worst.toFixed(1)} ms`);
    t.diagnostic(`${ticks.length} ticks during a ${Math.round(took)} ms exec; longest gap ${worst.toFixed(1)} ms`);
  });

  await t.test('the loop also turns during start, stop, files and streams', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const y = await m.createTerminal('local', 'busy');
    await y.start();
    await y.writeFile('big.bin', Buffer.alloc(8 << 20, 7));
    const back = await y.readFile('big.bin');
    for await (const ev of y.execStream('sleep 0.5; echo s')) void ev;
    await y.stop();
    await y.remove();
    clearInterval(timer);
    assert.equal(back.length, 8 << 20);
    assert.ok(ticks >= 40, `${ticks} ticks`);
  });

  await t.test('a pending exec keeps the process alive; idle handles do not', async () => {
    const { execFileSync } = require('node:child_process');
    const fs = require('node:fs');
    const path = require('node:path');
    const marker = path.join(m.stateDir, 'marker.txt');
    const script = `
      const kled = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const m = new kled.Manager({ stateDir: ${JSON.stringify(m.stateDir)} });
      m.getTerminal('conc').then((t) => {
        // Not awaited by anyone: node must still wait for it before exiting.
        t.execute('sleep 0.5; echo written > ${marker}').then((r) => process.stdout.write('exit ' + r.exitCode));
      });`;
    const started = Date.now();
    const out = execFileSync(process.execPath, ['-e', script], { timeout: 20_000 }).toString();
    assert.equal(out, 'exit 0');
    assert.equal(fs.readFileSync(marker, 'utf8'), 'written\n');
    assert.ok(Date.now() - started >= 450);

    // Live Manager and Terminal handles with nothing pending: node exits at once.
    const idle = `
      const kled = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const m = new kled.Manager({ stateDir: ${JSON.stringify(m.stateDir)} });
      m.getTerminal('conc').then((t) => t.execute('true')).then((r) => { globalThis.keep = [m, r]; });`;
    const t0 = Date.now();
    execFileSync(process.execPath, ['-e', idle], { timeout: 20_000 });
    assert.ok(Date.now() - t0 < 5000, `an idle program exited after ${Date.now() - t0} ms`);
  });
});
