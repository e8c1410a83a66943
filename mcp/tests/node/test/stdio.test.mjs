// `kled mcp` over stdio, driven by the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk), against real local terminals in a private
// KLED_HOME. Run: npm test (KLED_CLI names the kled binary; default
// target/debug/kled of this checkout).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = dirname(fileURLToPath(import.meta.url));
const KLED = process.env.KLED_CLI || resolve(here, '../../../../target/debug/kled');
const home = mkdtempSync('/tmp/kled-mcp-node-');
const env = { ...process.env, KLED_HOME: home };
let client;
let stderr = '';

const text = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const call = (name, args, options) => client.callTool({ name, arguments: args }, undefined, options);

function gone(pid) {
  // Absent, or a zombie waiting to be reaped.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return ['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return true;
  }
}

before(async () => {
  assert.ok(existsSync(KLED), `${KLED} is missing: cargo build -p kled-cli (or set KLED_CLI)`);
  const transport = new StdioClientTransport({ command: KLED, args: ['mcp'], env, stderr: 'pipe' });
  transport.stderr.on('data', (d) => { stderr += d; });
  client = new Client({ name: 'kled-node-test', version: '0.0.0' });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  // Remove whatever a failed test left behind, then the state dir.
  const left = JSON.parse(execFileSync(KLED, ['terminal', 'list', '--json'], { env }).toString());
  for (const t of left) execFileSync(KLED, ['terminal', 'rm', t.name], { env });
  rmSync(home, { recursive: true, force: true });
});

test('initialize: server info, instructions, every tool with an object schema', async () => {
  assert.equal(client.getServerVersion().name, 'kled');
  assert.match(client.getInstructions(), /terminal/);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [
    'code_interpreter_files', 'code_interpreter_run',
    'create_terminal', 'exec', 'list_terminals', 'providers', 'read_file',
    'remove_terminal', 'run_code', 'start_terminal', 'stop_terminal', 'write_file',
  ]);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.ok(t.description.length > 40, t.name);
    assert.equal(t.outputSchema?.type, 'object', t.name);
  }
});

test('create, exec with structured output, files, progress, remove', async () => {
  let r = await call('create_terminal', { name: 'node-t' });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.terminal.state, 'running');

  r = await call('exec', { terminal: 'node-t', command: 'echo "$GREET"; echo oops >&2; exit 2', env: { GREET: 'hi node' } });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.stdout, 'hi node\n');
  assert.equal(r.structuredContent.stderr, 'oops\n');
  assert.equal(r.structuredContent.exit_code, 2);
  assert.match(text(r), /^exit code 2 in /);

  r = await call('write_file', { terminal: 'node-t', path: 'n.txt', content: 'from node\n' });
  assert.equal(r.structuredContent.bytes_written, 10);
  r = await call('read_file', { terminal: 'node-t', path: 'n.txt' });
  assert.equal(r.structuredContent.content, 'from node\n');

  const progress = [];
  r = await call('exec', { terminal: 'node-t', command: 'sleep 2.4; echo late' }, {
    onprogress: (p) => progress.push(p),
  });
  assert.equal(r.structuredContent.stdout, 'late\n');
  assert.ok(progress.length >= 2, JSON.stringify(progress));
  assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress));
  assert.match(progress[0].message, /running for/);

  r = await call('run_code', { terminal: 'node-t', lang: 'js', code: 'console.log([1, 2, 3].map((x) => x * 2).join(","))' });
  assert.equal(r.structuredContent.stdout, '2,4,6\n', text(r));

  r = await call('remove_terminal', { name: 'node-t' });
  assert.deepEqual(r.structuredContent, { removed: 'node-t' });
});

test('bad arguments and unknown terminals are tool errors', async () => {
  await call('create_terminal', { name: 'node-known' });
  let r = await call('exec', { terminal: 'node-known' });
  assert.equal(r.isError, true);
  assert.match(text(r), /missing field `command`/);
  r = await call('exec', { terminal: 'node-known', command: { not: 'a command' } });
  assert.equal(r.isError, true);
  assert.match(text(r), /command must be a string/);
  r = await call('exec', { terminal: 'nowhere', command: 'true' });
  assert.equal(r.isError, true);
  assert.match(text(r), /No terminal named "nowhere"\. The terminals that exist are: node-known \(local, running\)/);
  r = await call('create_terminal', { name: 'bad name!' });
  assert.equal(r.isError, true);
  assert.match(text(r), /invalid terminal name/);
  r = await call('code_interpreter_files', { session_id: '../../etc' });
  assert.equal(r.isError, true);
  assert.match(text(r), /is not a Code Interpreter id/);
  r = await call('code_interpreter_run', { lang: 'py', code: '1', files: [{ id: 'x' }] });
  assert.equal(r.isError, true);
  assert.match(text(r), /missing field `session_id`/);
  await call('remove_terminal', { name: 'node-known' });
});

test('aborting a call cancels the exec and kills its processes', async () => {
  await call('create_terminal', { name: 'node-cancel' });
  const controller = new AbortController();
  const pending = call('exec', { terminal: 'node-cancel', command: 'echo $$ > sh.pid; sleep 300 & echo $! > child.pid; wait' }, {
    signal: controller.signal,
  });
  await new Promise((ok) => setTimeout(ok, 1500));
  controller.abort('test cancels');
  await assert.rejects(pending);
  const work = join(home, 'work', 'node-cancel');
  const pids = ['sh.pid', 'child.pid'].map((f) => Number(readFileSync(join(work, f), 'utf8')));
  const deadline = Date.now() + 10000;
  while (!pids.every(gone) && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 100));
  assert.ok(pids.every(gone), `still running after abort: ${pids} (server log: ${stderr})`);
  const r = await call('exec', { terminal: 'node-cancel', command: 'echo ok' });
  assert.equal(r.structuredContent.stdout, 'ok\n');
  await call('remove_terminal', { name: 'node-cancel' });
});
