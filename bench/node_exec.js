#!/usr/bin/env node
// Node binding round trip, one run: `await t.execute('true')` against
// child_process.execFile('true') (promisified) and against the Rust API on
// the very same terminal (core/examples/exec_baseline.rs). Prints
// p50/p99 and ratios; asserts nothing. Run by bench/node_exec.sh.
//
// The contenders run in rounds (blocks of N/4 samples each, in rotating
// order, the Rust baseline as one of them) so that load from elsewhere on
// the machine hits them alike. KLED_BENCH_N sets the samples per contender
// (default 1000).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { execFile, execFileSync } = require('node:child_process');
const kled = require('../bindings/node');

const N = Number(process.env.KLED_BENCH_N || 1000);
const ROUNDS = 4;
const WARMUP = 50;
const execFileAsync = util.promisify(execFile);

const us = (t0) => Number(process.hrtime.bigint() - t0) / 1000;

function stats(xs) {
  const s = Float64Array.from(xs).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(s.length * q))];
  return { p50: at(0.5), p99: at(0.99), n: s.length };
}

async function main() {
  const rustBin = process.env.KLED_RUST_EXEC || path.resolve(__dirname, '..', 'target', 'release', 'examples', 'exec_baseline');
  const haveRust = fs.existsSync(rustBin);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kled-nbench-'));
  const m = new kled.Manager({ stateDir: home });
  const t = await m.createTerminal('local', 'bench');
  try {
    await t.start();
    const contenders = {
      shell: () => t.execute('true'),
      argv: () => t.execute(['true']),
      execFile: () => execFileAsync('true'),
      execFileSh: () => execFileAsync('/bin/sh', ['-c', 'true']),
    };
    const samples = { shell: [], argv: [], execFile: [], execFileSh: [], rustShell: [], rustArgv: [] };
    for (let i = 0; i < WARMUP; i++) for (const f of Object.values(contenders)) await f();
    const first = await t.execute('true');
    if (first.exitCode !== 0) throw new Error('`true` failed in the terminal');

    // Blocks of n samples per contender, ROUNDS rounds in rotating order.
    // Not one sample of each in turn: a fork by execFile makes the parent's
    // next memory writes fault (copy-on-write), which would be charged to
    // whatever ran next.
    const n = Math.ceil(N / ROUNDS);
    const blocks = Object.entries(contenders);
    if (haveRust) blocks.push(['rust', null]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let b = 0; b < blocks.length; b++) {
        const [name, f] = blocks[(b + round) % blocks.length];
        if (name === 'rust') {
          const r = JSON.parse(execFileSync(rustBin, [home, 'bench', String(n)]).toString());
          samples.rustShell.push(...r.shell_us);
          samples.rustArgv.push(...r.argv_us);
          continue;
        }
        for (let i = 0; i < 5; i++) await f();
        for (let i = 0; i < n; i++) {
          const t0 = process.hrtime.bigint();
          await f();
          samples[name].push(us(t0));
        }
      }
    }
    const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.length ? stats(v) : null]));
    const row = (label, r) => console.log(`  ${label.padEnd(50)} ${r.p50.toFixed(0).padStart(8)} ${r.p99.toFixed(0).padStart(8)}`);
    console.log(`Node ${process.version}, kled ${kled.version}: exec round trip, ${s.shell.n} samples each, one run (microseconds)`);
    console.log(`  ${''.padEnd(50)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}`);
    row("Node  await t.execute('true')   (terminal's sh)", s.shell);
    row("Node  await t.execute(['true'])  (argv)", s.argv);
    if (haveRust) {
      row('Rust  t.exec("true")    same terminal', s.rustShell);
      row('Rust  t.exec(["true"])  same terminal', s.rustArgv);
    } else {
      console.log(`  (Rust baseline skipped: ${rustBin} is not built; bench/node_exec.sh builds it)`);
    }
    row("Node  await execFile('true')   (promisified)", s.execFile);
    row("Node  await execFile('/bin/sh', ['-c', 'true'])", s.execFileSh);
    const ratio = (a, b) => `${(a.p50 / b.p50).toFixed(2)}x`;
    console.log('ratios (p50)');
    console.log(`  kled execute('true')   / execFile('true'):        ${ratio(s.shell, s.execFile)}`);
    console.log(`  kled execute(['true']) / execFile('true'):        ${ratio(s.argv, s.execFile)}`);
    console.log(`  kled execute('true')   / execFile('sh -c true'):  ${ratio(s.shell, s.execFileSh)}`);
    if (haveRust) {
      const d = (a, b) => `${a.p50 >= b.p50 ? '+' : '-'}${Math.abs(a.p50 - b.p50).toFixed(0)} us`;
      console.log(`  Node execute('true')   / Rust exec("true"):       ${ratio(s.shell, s.rustShell)}  (${d(s.shell, s.rustShell)})`);
      console.log(`  Node execute(['true']) / Rust exec(["true"]):     ${ratio(s.argv, s.rustArgv)}  (${d(s.argv, s.rustArgv)})`);
    }
    console.log('(memory: bindings/node/test/memory.test.js measures RSS over 10,000 execs)');
  } finally {
    await t.remove();
    m.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
