'use strict';
// 10,000 execs and the release of handles, measured in a child process that
// can force garbage collection (--expose-gc): test/fixtures/leak.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { tempHome, removeAll } = require('./helpers');
const fs = require('node:fs');

test('no leak after 10,000 execs; handles released by close() and by GC', async (t) => {
  const home = tempHome('mem');
  t.after(async () => {
    await removeAll(home);
    fs.rmSync(home, { recursive: true, force: true });
  });
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'leak.js'), home, '10000'], {
    timeout: 180_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r = JSON.parse(out.toString());
  t.diagnostic(
    `RSS ${r.rss_before_mb.toFixed(1)} MB -> ${r.rss_half_mb.toFixed(1)} MB (5,000 execs) -> ${r.rss_after_mb.toFixed(1)} MB (10,000 execs, ${r.exec_seconds}s); ` +
      `growth ${r.rss_growth_mb.toFixed(2)} MB, in the second 5,000: ${r.rss_growth_second_half_mb.toFixed(2)} MB; JS heap ${r.heap_before_mb.toFixed(1)} -> ${r.heap_after_mb.toFixed(1)} MB`
  );
  assert.equal(r.execs, 10000);
  // A leak of even 1 KB per exec would add 5 MB over the second 5,000.
  assert.ok(r.rss_growth_second_half_mb < 5, `RSS grew ${r.rss_growth_second_half_mb} MB over the second 5,000 execs`);
  assert.ok(r.rss_growth_mb < 25, `RSS grew ${r.rss_growth_mb} MB over 10,000 execs`);
  assert.ok(r.heap_after_mb - r.heap_before_mb < 5, 'the JS heap does not grow');
  assert.deepEqual(r.handles_after, r.handles_before, 'no native handle is left behind by execs');
  assert.equal(r.streams_released, true, 'finished streams are collected');
  assert.equal(r.terminal_handles_collected, true, '2,000 dropped Terminal handles are collected');
  assert.ok(r.fds_opened >= 10, `each Manager had its own agent connection (${r.fds_opened} fds)`);
  assert.equal(r.close_released_connections, true, 'close() released the agent connections');
  assert.equal(r.managers_while_referenced, 21, 'closed handles exist while JS holds them');
  assert.equal(r.closed_handles_collected, true, 'and are collected once dropped');
  assert.ok(r.fds_opened_gc >= 10);
  assert.equal(r.gc_released_connections, true, 'dropping handles without close() releases the connections at GC');
  assert.equal(r.managers_collected, true);
  assert.deepEqual(r.handles_at_end, { managers: 1, terminals: 1, streams: 0 });
});
