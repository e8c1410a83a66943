// Compile-time checks of bindings/node/index.d.ts (tsc --noEmit --strict, run by scripts/suites/40-node.sh).
// Every exported declaration is used here in a typed way that fails to compile if the declaration drifts
// from what index.js really does: `Equal` pins a type exactly (a wider or narrower type fails), and
// `@ts-expect-error` lines must stay errors. Nothing here runs; surface.js checks the running module.
import * as kled from '../..';
import {
  AgentError,
  AlreadyExistsError,
  BulkOptions,
  Caps,
  Command,
  ConfigError,
  Data,
  DirEntry,
  ExecEvent,
  ExecOptions,
  ExecResult,
  ExecStream,
  ExecStreamOptions,
  InvalidArgumentError,
  InvalidStateError,
  IoError,
  KledConfig,
  KledError,
  KledErrorCode,
  KledErrorOptions,
  Manager,
  ManagerOptions,
  NotFoundError,
  Provider,
  RunCodeOptions,
  RuntimeUnavailableError,
  Terminal,
  TerminalInfo,
  TerminalKind,
  TerminalOptions,
  TerminalState,
  TimeoutError,
  WriteFileOptions,
} from '../..';

/** True when X and Y are the same type (not merely assignable one way). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
/** Compiles only when given `true`. */
function expectType<T extends true>(): T | void {}
type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

// ---- plain types
expectType<Equal<TerminalState, 'created' | 'running' | 'stopped' | 'failed'>>();
expectType<Equal<TerminalKind, 'local' | 'container' | 'gvisor' | 'kata' | 'neovim' | 'neovim-kata'>>();
expectType<Equal<Data, string | Buffer | Uint8Array | ArrayBuffer>>();
expectType<Equal<Command, string | readonly string[]>>();
expectType<
  Equal<
    KledErrorCode,
    | 'KLED_NOT_FOUND'
    | 'KLED_ALREADY_EXISTS'
    | 'KLED_INVALID_ARGUMENT'
    | 'KLED_RUNTIME_UNAVAILABLE'
    | 'KLED_INVALID_STATE'
    | 'KLED_TIMEOUT'
    | 'KLED_AGENT'
    | 'KLED_IO'
    | 'KLED_CONFIG'
  >
>();
expectType<Equal<typeof kled.version, string>>();

// ---- options: every field, with the type index.js checks for
const config: KledConfig = {
  coder: { url: 'http://127.0.0.1:1', token: 't', timeout: 30 },
  kata: { url: 'http://127.0.0.1:2', timeout: 30 },
  librechat: { base_url: 'http://127.0.0.1:3/v1', api_key: 'k', auth: 'bearer', timeout: 60 },
  isolation: { gvisor: { engine: 'unix:///run/kled/gvisor.sock', runtime: 'runsc' }, kata: { engine: 'e', runtime: 'kata' } },
  codeapi: { listen: '127.0.0.1:0' },
};
// @ts-expect-error: auth is one of two words
const badAuth: KledConfig = { librechat: { auth: 'basic' } };
const managerOptions: ManagerOptions[] = [{}, { stateDir: '/tmp/k' }, { config: '/etc/kled.yaml' }, { config }];
const terminalOptions: TerminalOptions = {
  os: 'linux',
  shell: '/bin/bash',
  workdir: '/tmp',
  env: { A: 'b' },
  image: 'localhost/kled-busybox', // other runtimes' options pass through
};
// @ts-expect-error: os is linux, mac or windows
const badOs: TerminalOptions = { os: 'dos' };
const bulk: BulkOptions = { options: terminalOptions, prefix: 'w', start: true, concurrency: 4 };
const execOptions: ExecOptions = {
  timeout: 1000,
  cwd: '/tmp',
  env: { S: 's', N: 1, B: true },
  stdin: Buffer.from('x'),
  maxOutput: 1 << 20,
  tty: { rows: 24, cols: 80 },
};
// @ts-expect-error: unknown options are rejected (index.js throws on them too)
const badExec: ExecOptions = { timout: 5 };
const streamOptions: ExecStreamOptions = { ...execOptions, stdinOpen: true };
const runOptions: RunCodeOptions = { args: ['a'], stdin: 'in', timeout: 500, remote: false };
const writeOptions: WriteFileOptions = { mode: 0o755 };
const data: Data[] = ['s', Buffer.alloc(1), new Uint8Array(1), new ArrayBuffer(1)];

// ---- results
expectType<
  Equal<
    TerminalInfo,
    {
      name: string;
      kind: TerminalKind;
      state: TerminalState;
      options: Record<string, unknown>;
      createdAt: Date;
      error?: string;
    }
  >
>();
expectType<
  Equal<
    Provider,
    { kind: TerminalKind; available: boolean; description: string; needs: string; reason?: string; caps: Caps }
  >
>();
expectType<
  Equal<Caps, { tty: boolean; signals: boolean; editor: boolean; isolated: boolean; sessions: boolean; files: boolean }>
>();
expectType<
  Equal<DirEntry, { name: string; kind: 'file' | 'dir' | 'symlink' | 'other'; size: number; mode: number; mtimeMs: number }>
>();

function useResult(r: ExecResult): void {
  expectType<Equal<typeof r.stdout, string>>();
  expectType<Equal<typeof r.stderr, string>>();
  expectType<Equal<typeof r.stdoutBytes, Buffer>>();
  expectType<Equal<typeof r.stderrBytes, Buffer>>();
  expectType<Equal<typeof r.exitCode, number | null>>();
  expectType<Equal<typeof r.signal, NodeJS.Signals | string | null>>();
  expectType<Equal<typeof r.timedOut, boolean>>();
  expectType<Equal<typeof r.truncated, boolean>>();
  expectType<Equal<typeof r.duration, number>>();
  expectType<Equal<typeof r.ok, boolean>>();
  expectType<Equal<ReturnType<typeof r.check>, ExecResult>>();
  expectType<
    Equal<
      ReturnType<typeof r.toJSON>,
      {
        stdout: string;
        stderr: string;
        exitCode: number | null;
        signal: string | null;
        timedOut: boolean;
        truncated: boolean;
        duration: number;
      }
    >
  >();
  // @ts-expect-error: results are read-only
  r.exitCode = 1;
  // @ts-expect-error: only the addon makes results
  new ExecResult();
}

function useEvent(ev: ExecEvent): number {
  switch (ev.type) {
    case 'stdout':
    case 'stderr':
      expectType<Equal<typeof ev.data, Buffer>>();
      return ev.data.length;
    case 'exit':
      expectType<Equal<typeof ev.exitCode, number | null>>();
      expectType<Equal<typeof ev.signal, NodeJS.Signals | string | null>>();
      expectType<Equal<typeof ev.timedOut, boolean>>();
      expectType<Equal<typeof ev.truncated, boolean>>();
      expectType<Equal<typeof ev.duration, number>>();
      return ev.duration;
  }
}

async function useStream(s: ExecStream): Promise<void> {
  const it: AsyncIterableIterator<ExecEvent> = s;
  expectType<Equal<ReturnType<(typeof s)[typeof Symbol.asyncIterator]>, ExecStream>>();
  expectType<Equal<Result<typeof s.next>, IteratorResult<ExecEvent, undefined>>>();
  expectType<Equal<Result<typeof s.return>, IteratorResult<ExecEvent, undefined>>>();
  expectType<Equal<ReturnType<typeof s.kill>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof s.write>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof s.closeStdin>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof s.resize>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof s.close>, void>>();
  expectType<Equal<ReturnType<(typeof s)[typeof Symbol.dispose]>, void>>();
  for await (const ev of s) useEvent(ev);
  await s.kill();
  await s.kill('SIGINT');
  await s.kill(9);
  await s.write('more');
  await s.write(Buffer.from('more'));
  await s.closeStdin();
  await s.resize(24, 80);
  s.close();
  s[Symbol.dispose]();
  await it.next();
  // @ts-expect-error: only Terminal.execStream makes streams
  new ExecStream();
}

async function useTerminal(t: Terminal): Promise<void> {
  expectType<Equal<typeof t.name, string>>();
  expectType<Equal<typeof t.kind, TerminalKind>>();
  expectType<Equal<typeof t.closed, boolean>>();
  expectType<Equal<Result<typeof t.state>, TerminalState>>();
  expectType<Equal<Result<typeof t.info>, TerminalInfo>>();
  expectType<Equal<ReturnType<typeof t.start>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof t.stop>, Promise<void>>>();
  expectType<Equal<ReturnType<typeof t.remove>, Promise<void>>>();
  expectType<Equal<Result<typeof t.execute>, ExecResult>>();
  expectType<Equal<ReturnType<typeof t.execStream>, ExecStream>>();
  expectType<Equal<Result<typeof t.runCode>, ExecResult>>();
  expectType<Equal<Result<typeof t.listDir>, DirEntry[]>>();
  expectType<Equal<ReturnType<typeof t.close>, void>>();
  useResult(await t.execute('echo hi'));
  useResult(await t.execute(['ls', '-la'], execOptions));
  const argv: readonly string[] = ['true'];
  await t.execute(argv, {});
  await useStream(t.execStream('cat', streamOptions));
  useResult(await t.runCode('py', 'print(1)'));
  useResult(await t.runCode('python', 'print(1)', runOptions));
  const bytes: Buffer = await t.readFile('a.txt');
  const text1: string = await t.readFile('a.txt', 'utf8');
  const text2: string = await t.readFile('a.txt', { encoding: 'latin1' });
  for (const d of data) await t.writeFile('b', d);
  await t.writeFile('b', 'x', writeOptions);
  await t.writeFile('b', 'x', 0o600);
  const entries: DirEntry[] = await t.listDir();
  await t.listDir('/tmp');
  t.close();
  t[Symbol.dispose]();
  // @ts-expect-error: a command is a string or a list of strings
  await t.execute(42);
  // @ts-expect-error: only a Manager makes terminals
  new Terminal();
  // @ts-expect-error: name is read-only
  t.name = 'other';
  void [bytes, text1, text2, entries];
}

async function useManager(): Promise<void> {
  for (const o of managerOptions) new Manager(o).close();
  const m = new Manager();
  expectType<Equal<typeof m.stateDir, string>>();
  expectType<Equal<typeof m.closed, boolean>>();
  expectType<Equal<Result<typeof m.createTerminal>, Terminal>>();
  expectType<Equal<Result<typeof m.getTerminal>, Terminal>>();
  expectType<Equal<Result<typeof m.listTerminals>, TerminalInfo[]>>();
  expectType<Equal<ReturnType<typeof m.removeTerminal>, Promise<void>>>();
  expectType<Equal<Result<typeof m.createBulkTerminals>, Terminal[]>>();
  expectType<Equal<Result<typeof m.providers>, Provider[]>>();
  expectType<Equal<ReturnType<typeof m.close>, void>>();
  await useTerminal(await m.createTerminal('local', 'dev'));
  await useTerminal(await m.createTerminal('container', 'box', { image: 'localhost/kled-busybox' }));
  await useTerminal(await m.createTerminal('some-future-kind', 'x', terminalOptions));
  await useTerminal(await m.getTerminal('dev'));
  const infos: TerminalInfo[] = await m.listTerminals();
  await m.removeTerminal('dev');
  const many: Terminal[] = await m.createBulkTerminals('local', 3);
  await m.createBulkTerminals('local', 3, bulk);
  const providers: Provider[] = await m.providers();
  m.close();
  m[Symbol.dispose]();
  // @ts-expect-error: the manager's options are an object
  new Manager('/tmp/state');
  void [infos, many, providers];
}

// ---- errors: each class, its constructor and its code
function useErrors(e: unknown): string {
  const all: KledError[] = [
    new KledError('m'),
    new KledError('m', 'KLED_IO'),
    new KledError('m', 'KLED_IO', { cause: e }),
    new KledError('m', 'KLED_IO', { cause: e, hint: 'do this' }),
    new InvalidStateError('m', { hint: null }),
    new NotFoundError('m'),
    new AlreadyExistsError('m', { cause: e }),
    new InvalidArgumentError('m'),
    new RuntimeUnavailableError('m'),
    new InvalidStateError('m'),
    new TimeoutError('m'),
    new AgentError('m'),
    new IoError('m'),
    new ConfigError('m'),
  ];
  const plain: Error = all[0];
  expectType<Equal<KledError['code'], KledErrorCode | string>>();
  expectType<Equal<KledError['result'], ExecResult | undefined>>();
  expectType<Equal<KledError['hint'], string | null>>();
  const options: KledErrorOptions = { hint: 'h', cause: e };
  expectType<Equal<NotFoundError['code'], 'KLED_NOT_FOUND'>>();
  expectType<Equal<AlreadyExistsError['code'], 'KLED_ALREADY_EXISTS'>>();
  expectType<Equal<InvalidArgumentError['code'], 'KLED_INVALID_ARGUMENT'>>();
  expectType<Equal<RuntimeUnavailableError['code'], 'KLED_RUNTIME_UNAVAILABLE'>>();
  expectType<Equal<InvalidStateError['code'], 'KLED_INVALID_STATE'>>();
  expectType<Equal<TimeoutError['code'], 'KLED_TIMEOUT'>>();
  expectType<Equal<AgentError['code'], 'KLED_AGENT'>>();
  expectType<Equal<IoError['code'], 'KLED_IO'>>();
  expectType<Equal<ConfigError['code'], 'KLED_CONFIG'>>();
  if (e instanceof InvalidStateError && e.result) useResult(e.result);
  // @ts-expect-error: a subclass's code is fixed
  new NotFoundError('m', 'KLED_IO');
  return all.map((x) => x.code).join() + plain.message + String(options.hint);
}

export const checks = [badAuth, badOs, badExec, useManager, useErrors];
