// kled from TypeScript: the same tour, type-checked against index.d.ts.
// Run: npm install && npm run typecheck && npm run quickstart:ts
import { Manager, Terminal, ExecResult, ExecEvent, KledError, NotFoundError, TerminalInfo } from 'kled';

async function open(m: Manager, name: string): Promise<Terminal> {
  try {
    return await m.createTerminal('local', name, { env: { GREETING: 'hello' } });
  } catch (e) {
    if (e instanceof KledError && e.code === 'KLED_ALREADY_EXISTS') return m.getTerminal(name);
    throw e;
  }
}

async function main(): Promise<void> {
  const m = new Manager({ stateDir: process.env.KLED_HOME });
  const t = await open(m, 'quickstart-ts');
  try {
    await t.start();

    const r: ExecResult = await t.execute('echo "$GREETING from TypeScript"; exit 2');
    const code: number | null = r.exitCode;
    console.log(`stdout=${JSON.stringify(r.stdout)} exitCode=${code} bytes=${r.stdoutBytes.length}`);

    const argv = await t.execute(['printf', '%s-%s\\n', 'a', 'b'], { env: { X: '1' }, timeout: 5_000 });
    console.log(`argv: ${argv.stdout.trim()} ok=${argv.ok}`);

    const py = await t.runCode('python', 'print(sum(range(10)))', { timeout: 30_000 });
    console.log(`python: ${py.check().stdout.trim()}`);

    await t.writeFile('data.bin', Buffer.from([0, 1, 2, 255]), { mode: 0o600 });
    const data: Buffer = await t.readFile('data.bin');
    console.log(`file bytes: ${[...data].join(',')}`);

    const chunks: string[] = [];
    for await (const ev of t.execStream('echo one; echo two >&2')) {
      const e: ExecEvent = ev;
      if (e.type === 'exit') chunks.push(`exit:${e.exitCode}`);
      else chunks.push(`${e.type}:${e.data.toString().trim()}`);
    }
    console.log(`stream: ${chunks.join(' ')}`);

    try {
      await m.getTerminal('no-such-terminal');
    } catch (e) {
      if (e instanceof NotFoundError) console.log(`not found, code ${e.code}`);
      else throw e;
    }

    const list: TerminalInfo[] = await m.listTerminals();
    console.log(`terminals: ${list.map((i) => `${i.name}:${i.state}`).join(' ')}`);
  } finally {
    await t.remove();
    m.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
