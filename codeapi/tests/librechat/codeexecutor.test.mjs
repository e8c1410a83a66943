// kled serve codeapi driven by LibreChat's own client: the CodeExecutor tool
// of @librechat/agents, with a JWT minted as LibreChat mints it
// (packages/api/src/auth/codeapi.ts: EdDSA, kid, iss librechat, aud codeapi)
// and `_injected_files` from a prior upload, as LibreChat's ToolNode injects
// them. scripts/suites/55-librechat.sh starts the server and sets
// LIBRECHAT_CODE_BASEURL, KLED_TEST_JWT_PRIVATE_KEY and KLED_TEST_JWT_KID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const BASE = process.env.LIBRECHAT_CODE_BASEURL;
const KEY = createPrivateKey(readFileSync(process.env.KLED_TEST_JWT_PRIVATE_KEY, 'utf8'));
const KID = process.env.KLED_TEST_JWT_KID;
// Imported after LIBRECHAT_CODE_BASEURL is set: the module reads it at load.
const { createCodeExecutionTool } = await import('@librechat/agents');

const b64 = (v) => Buffer.from(v).toString('base64url');

/** LibreChat's signJwt and buildClaims, for user `sub`. */
function mint(sub) {
  const now = Math.floor(Date.now() / 1000);
  const canonical = { chc_user_id: '', org_id: '', principal_source: 'librechat_jwt', role: 'USER', service_id: '', sub, tenant_id: 'legacy' };
  const claims = {
    iss: 'librechat', aud: 'codeapi', sub, iat: now, nbf: now, exp: now + 300, jti: randomUUID(),
    tenant_id: 'legacy', role: 'USER', principal_source: 'librechat_jwt',
    auth_context_hash: createHash('sha256').update(JSON.stringify(canonical)).digest('hex'),
  };
  const input = `${b64(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: KID }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(sign(null, Buffer.from(input), KEY))}`;
}

const headersFor = (user) => async () => ({ Authorization: `Bearer ${mint(user)}` });

async function upload(user, name, text) {
  const form = new FormData();
  form.append('kind', 'user');
  form.append('id', user);
  form.append('file', new Blob([text]), name);
  const r = await fetch(`${BASE}/upload`, { method: 'POST', body: form, headers: await headersFor(user)() });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

async function run(user, code, injected) {
  const tool = createCodeExecutionTool({ authHeaders: headersFor(user) });
  return tool.invoke({
    id: `call_${randomUUID().slice(0, 8)}`, name: tool.name, type: 'tool_call',
    args: { lang: 'py', code }, _injected_files: injected,
  });
}

test('CodeExecutor runs on kled with a minted JWT and injected files, across two runs', async () => {
  const up = await upload('user-a', 'data/in.csv', 'x,y\n1,2\n');
  assert.equal(typeof up.storage_session_id, 'string');
  const injected = up.files.map((f) => ({
    id: f.fileId, storage_session_id: up.storage_session_id, name: f.filename, resource_id: 'user-a', kind: 'user',
  }));
  const first = await run('user-a', "import os\nos.makedirs('out', exist_ok=True)\n"
    + "open('out/sum.txt','w').write(str(sum(map(int, open('data/in.csv').read().split()[1].split(',')))))\n"
    + "print('rows', len(open('data/in.csv').readlines()))", injected);
  assert.match(String(first.content), /stdout:\nrows 2\b/);
  const files = first.artifact.files;
  const sum = files.find((f) => f.name === 'out/sum.txt');
  assert.ok(sum, JSON.stringify(first.artifact));
  assert.equal(typeof sum.storage_session_id, 'string');

  // The next turn gets the previous outputs injected, as LibreChat does.
  const next = files.map((f) => ({ id: f.id, storage_session_id: f.storage_session_id, name: f.name, resource_id: 'user-a', kind: 'user' }));
  const second = await run('user-a', "print('sum', open('out/sum.txt').read())", next);
  assert.match(String(second.content), /stdout:\nsum 3\b/);

  // Another user cannot use them: the server answers 403, the tool fails.
  await assert.rejects(run('user-b', "print(open('out/sum.txt').read())", next), /403/);
  // And a forged token (wrong key) is refused outright.
  const forged = createCodeExecutionTool({ authHeaders: { Authorization: `Bearer ${mint('user-a').slice(0, -4)}AAAA` } });
  await assert.rejects(
    forged.invoke({ id: 'call_x', name: forged.name, type: 'tool_call', args: { lang: 'py', code: 'print(1)' } }),
    /401/,
  );
});
