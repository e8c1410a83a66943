'use strict';
// Checks bindings/node/index.d.ts against the real module at run time (scripts/suites/40-node.sh runs it
// after tsc): every exported class, function and constant exists; every declared member exists on real
// objects (made by a real local terminal) with a value of the declared type; every public member of the
// real classes is declared; result objects (TerminalInfo, Provider, DirEntry, ExecEvent) carry exactly
// the declared fields. The declarations are read with the TypeScript compiler's parser, not by pattern.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const ts = require('typescript');
const kled = require('../..');

const dtsPath = path.resolve(__dirname, '../../index.d.ts');
const sf = ts.createSourceFile(dtsPath, fs.readFileSync(dtsPath, 'utf8'), ts.ScriptTarget.ES2022, true);
const classes = new Map();
const interfaces = new Map();
const aliases = new Map();
const consts = new Map();
for (const st of sf.statements) {
  if (ts.isClassDeclaration(st)) classes.set(st.name.text, st);
  else if (ts.isInterfaceDeclaration(st)) interfaces.set(st.name.text, st);
  else if (ts.isTypeAliasDeclaration(st)) aliases.set(st.name.text, st.type);
  else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) consts.set(d.name.text, d.type);
}
const problems = [];
const fail = (msg) => problems.push(msg);

function memberName(m) {
  if (!m.name) return null; // constructor
  if (ts.isComputedPropertyName(m.name)) return m.name.expression.getText(sf); // Symbol.dispose
  return m.name.text;
}
const runtimeKey = (name) => (name.startsWith('Symbol.') ? Symbol[name.slice(7)] : name);

/** Whether `v` is a value of the type node `t` (the kinds of type index.d.ts uses). */
function isOf(v, t) {
  switch (t.kind) {
    case ts.SyntaxKind.StringKeyword:
      return typeof v === 'string';
    case ts.SyntaxKind.NumberKeyword:
      return typeof v === 'number';
    case ts.SyntaxKind.BooleanKeyword:
      return typeof v === 'boolean';
    case ts.SyntaxKind.UnknownKeyword:
      return true;
    case ts.SyntaxKind.UndefinedKeyword:
      return v === undefined;
    case ts.SyntaxKind.LiteralType:
      if (t.literal.kind === ts.SyntaxKind.NullKeyword) return v === null;
      return v === (ts.isStringLiteral(t.literal) ? t.literal.text : Number(t.literal.text));
    case ts.SyntaxKind.UnionType:
      return t.types.some((u) => isOf(v, u));
    case ts.SyntaxKind.ArrayType:
      return Array.isArray(v) && v.every((x) => isOf(x, t.elementType));
    case ts.SyntaxKind.TypeOperator: // readonly T[]
      return isOf(v, t.type);
    case ts.SyntaxKind.TypeLiteral:
      return typeof v === 'object' && v !== null && checkFields(v, t.members, 'literal') === 0;
    case ts.SyntaxKind.TypeReference: {
      const name = t.typeName.getText(sf);
      if (name === 'Buffer') return Buffer.isBuffer(v);
      if (name === 'Date') return v instanceof Date && !Number.isNaN(v.getTime());
      if (name === 'NodeJS.Signals') return typeof v === 'string' && v in os.constants.signals;
      if (name === 'Record') return typeof v === 'object' && v !== null && !Array.isArray(v);
      if (aliases.has(name)) return isOf(v, aliases.get(name));
      if (interfaces.has(name)) return typeof v === 'object' && v !== null;
      if (kled[name]) return v instanceof kled[name];
      throw new Error(`surface.js cannot check the type ${name}: teach isOf`);
    }
    default:
      throw new Error(`surface.js cannot check ${ts.SyntaxKind[t.kind]}: teach isOf`);
  }
}

/** `obj` has every required declared field with a value of its type, and no undeclared field. */
function checkFields(obj, members, what) {
  let bad = 0;
  const declared = new Set();
  for (const m of members) {
    if (!ts.isPropertySignature(m)) continue;
    declared.add(m.name.text);
    const has = Object.prototype.hasOwnProperty.call(obj, m.name.text);
    if (!has && !m.questionToken) bad++, what && fail(`${what}: no ${m.name.text} at run time`);
    if (has && !isOf(obj[m.name.text], m.type)) {
      bad++;
      if (what) fail(`${what}.${m.name.text} is ${util.inspect(obj[m.name.text])}, not ${m.type.getText(sf)}`);
    }
  }
  for (const k of Object.keys(obj)) if (!declared.has(k)) bad++, what && fail(`${what}: ${k} is not declared`);
  return bad;
}

/** Every declared member of class `name` is on `obj`, with a value of its type; every public member is declared. */
function checkInstance(name, obj) {
  const decl = classes.get(name);
  assert.ok(decl, `index.d.ts declares no class ${name}`);
  assert.ok(obj instanceof kled[name], `${util.inspect(obj)} is not a ${name}`);
  const declared = new Set();
  for (const m of decl.members) {
    const n = memberName(m);
    if (n == null) continue;
    declared.add(n);
    const key = runtimeKey(n);
    if (key === undefined) {
      // Symbol.dispose before Node 20: index.js sets it only where it exists.
      console.log(`note: this Node has no ${n}; ${name}.${n} not checked`);
    } else if (!(key in obj)) {
      fail(`${name}.${n} is declared but ${name} has no ${n} at run time`);
    } else if (ts.isMethodDeclaration(m)) {
      if (typeof obj[key] !== 'function') fail(`${name}.${n} is declared a method but is ${typeof obj[key]}`);
    } else if (ts.isPropertyDeclaration(m) && m.type && !isOf(obj[key], m.type)) {
      fail(`${name}.${n} is ${util.inspect(obj[key])}, declared ${m.type.getText(sf)}`);
    }
  }
  const own = new Set([...Object.keys(obj), ...Object.getOwnPropertyNames(Object.getPrototypeOf(obj))]);
  for (const k of own) if (k !== 'constructor' && !declared.has(k)) fail(`${name}.${k} exists at run time but is not declared`);
}

async function main() {
  // Exports: every class and constant declared is exported, and nothing public is left undeclared.
  for (const name of classes.keys()) if (typeof kled[name] !== 'function') fail(`class ${name} is not exported`);
  for (const [name, type] of consts) if (!isOf(kled[name], type)) fail(`${name} is ${util.inspect(kled[name])}`);
  for (const name of Object.keys(kled)) {
    if (!name.startsWith('_') && !classes.has(name) && !consts.has(name)) fail(`export ${name} is not declared`);
  }

  // Errors: each class's fixed code, and the base class's chain.
  for (const [name, decl] of classes) {
    if (!decl.heritageClauses || !decl.heritageClauses[0].getText(sf).includes('KledError')) continue;
    const e = new kled[name]('m', { cause: 'c', hint: 'h' });
    if (!(e instanceof kled.KledError && e instanceof Error)) fail(`${name} is not a KledError`);
    if (e.cause !== 'c') fail(`${name} drops options.cause`);
    if (name !== 'KledError' && e.hint !== 'h') fail(`${name} drops options.hint`);
    const hint = classes.get('KledError').members.find((m) => memberName(m) === 'hint');
    if (!hint || !isOf(new kled[name]('m').hint, hint.type)) fail(`${name}.hint is not declared as it is`);
    const code = decl.members.find((m) => memberName(m) === 'code');
    if (!code || !isOf(e.code, code.type)) fail(`${name}.code is ${e.code}, declared ${code && code.type.getText(sf)}`);
  }

  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kled-node-types-'));
  const m = new kled.Manager({ stateDir: home });
  try {
    checkInstance('Manager', m);
    const t = await m.createTerminal('local', 'types-surface');
    checkInstance('Terminal', t);
    await t.start();
    await t.writeFile('f.txt', 'x');
    const r = await t.execute('echo out; echo err >&2; exit 3');
    checkInstance('ExecResult', r);
    assert.equal(r.exitCode, 3);
    checkFields(r.toJSON(), classes.get('ExecResult').members.find((x) => memberName(x) === 'toJSON').type.members, 'ExecResult.toJSON()');
    const s = t.execStream('echo streamed', { stdinOpen: false });
    checkInstance('ExecStream', s);
    const events = aliases.get('ExecEvent').types;
    for await (const ev of s) {
      const shape = events.find((u) => u.members.some((x) => x.name.text === 'type' && isOf(ev.type, x.type)));
      if (!shape) fail(`an ExecEvent of type ${ev.type} is not declared`);
      else checkFields(ev, shape.members, `ExecEvent(${ev.type})`);
    }
    checkFields(await t.info(), interfaces.get('TerminalInfo').members, 'TerminalInfo');
    for (const i of await m.listTerminals()) checkFields(i, interfaces.get('TerminalInfo').members, 'listTerminals()[]');
    for (const p of await m.providers()) checkFields(p, interfaces.get('Provider').members, `Provider(${p.kind})`);
    for (const d of await t.listDir()) checkFields(d, interfaces.get('DirEntry').members, `DirEntry(${d.name})`);
    if (!isOf(await t.state(), aliases.get('TerminalState'))) fail('state() is not a TerminalState');
    await t.remove();
  } finally {
    for (const i of await m.listTerminals().catch(() => [])) await m.removeTerminal(i.name).catch(() => {});
    m.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
  if (problems.length) {
    console.error(`index.d.ts and the real module disagree:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`index.d.ts matches the module: ${classes.size} classes, ${interfaces.size} interfaces, ${consts.size} constants`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
