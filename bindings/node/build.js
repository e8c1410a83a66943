#!/usr/bin/env node
'use strict';
// Builds the addon with plain cargo (no napi CLI) and copies it to kled.node.
// `node build.js` builds the release profile; `--debug` the dev profile.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const debug = process.argv.includes('--debug');
const root = path.resolve(__dirname, '..', '..');
const args = ['build', '-p', 'kled-node', '--message-format=json-render-diagnostics'];
if (!debug) args.push('--release');
let out;
try {
  out = execFileSync(process.env.CARGO || 'cargo', args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 << 20,
  }).toString();
} catch (e) {
  // cargo has printed its diagnostics on stderr already.
  console.error(`cargo ${args.join(' ')} failed (${e.status != null ? `exit status ${e.status}` : e.message})`);
  process.exit(1);
}

// The cdylib cargo just produced, wherever the target dir is.
let lib = null;
for (const line of out.split('\n')) {
  if (!line.startsWith('{')) continue;
  const msg = JSON.parse(line);
  if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'kled_node') {
    lib = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) || lib;
  }
}
if (!lib) {
  console.error('cargo did not report the kled_node library');
  process.exit(1);
}
const dest = path.join(__dirname, 'kled.node');
// Copy to a temporary name and rename: a running process keeps its mapping intact.
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(lib, tmp);
fs.renameSync(tmp, dest);
console.log(`built ${path.relative(process.cwd(), dest) || dest} from ${lib}`);
