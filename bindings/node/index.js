'use strict';
// kled for Node.js. The work is done by kled's Rust core, compiled into
// kled.node (see src/lib.rs); this file gives it a Node shape: classes,
// Promises, Buffers, Error subclasses with a `code`, async iterators.
//
// Every I/O method returns a Promise and never throws synchronously: its
// work runs on the addon's own threads, so the event loop keeps turning.
// Times are in milliseconds, as everywhere in Node.

const os = require('node:os');
const path = require('node:path');
const util = require('node:util');

const native = (() => {
  const file = path.join(__dirname, 'kled.node');
  try {
    return require(file);
  } catch (e) {
    const err = new Error(
      `cannot load kled's native addon ${file}: ${e.message}` +
        ' (in a source checkout, build it with `npm run build` in bindings/node)'
    );
    err.code = 'KLED_ADDON_MISSING';
    err.cause = e;
    throw err;
  }
})();

// ---------------------------------------------------------------- errors

/**
 * Base class of every error kled raises; `code` says which kind, `hint` the
 * next step when kled knows one (the message ends with it too), else null.
 */
class KledError extends Error {
  constructor(message, code = 'KLED_ERROR', options) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.hint = (options && options.hint) ?? null;
  }
}
/** No terminal (or file) by that name. */
class NotFoundError extends KledError {
  constructor(message, options) { super(message, 'KLED_NOT_FOUND', options); }
}
/** A terminal by that name exists already. */
class AlreadyExistsError extends KledError {
  constructor(message, options) { super(message, 'KLED_ALREADY_EXISTS', options); }
}
/** A bad name, option, language, path or request. */
class InvalidArgumentError extends KledError {
  constructor(message, options) { super(message, 'KLED_INVALID_ARGUMENT', options); }
}
/** The runtime (or a program it needs) is not available on this machine. */
class RuntimeUnavailableError extends KledError {
  constructor(message, options) { super(message, 'KLED_RUNTIME_UNAVAILABLE', options); }
}
/** The terminal (or handle) is not in a state that allows the operation. */
class InvalidStateError extends KledError {
  constructor(message, options) { super(message, 'KLED_INVALID_STATE', options); }
}
/** A deadline passed before the operation finished. */
class TimeoutError extends KledError {
  constructor(message, options) { super(message, 'KLED_TIMEOUT', options); }
}
/** The agent or engine broke the conversation. */
class AgentError extends KledError {
  constructor(message, options) { super(message, 'KLED_AGENT', options); }
}
/** A file-system or OS error on the host. */
class IoError extends KledError {
  constructor(message, options) { super(message, 'KLED_IO', options); }
}
/** The configuration file or environment is wrong. */
class ConfigError extends KledError {
  constructor(message, options) { super(message, 'KLED_CONFIG', options); }
}

const ERRORS = {
  KLED_NOT_FOUND: NotFoundError,
  KLED_ALREADY_EXISTS: AlreadyExistsError,
  KLED_INVALID_ARGUMENT: InvalidArgumentError,
  KLED_RUNTIME_UNAVAILABLE: RuntimeUnavailableError,
  KLED_INVALID_STATE: InvalidStateError,
  KLED_TIMEOUT: TimeoutError,
  KLED_AGENT: AgentError,
  KLED_IO: IoError,
  KLED_CONFIG: ConfigError,
};

// The addon makes core errors with `code`, `hint` and `cause` set
// (src/errors.rs); here they get the class of their code.
function fromNative(e) {
  if (e instanceof KledError || !(e instanceof Error) || typeof e.code !== 'string') return e;
  if (!e.code.startsWith('KLED_')) return e;
  const options = { hint: e.hint ?? null };
  if (e.cause !== undefined) options.cause = fromNative(e.cause);
  const Cls = ERRORS[e.code];
  return Cls ? new Cls(e.message, options) : new KledError(e.message, e.code, options);
}

// Runs a native call; sync throws and rejections both come back as a
// rejected Promise carrying a KledError.
async function call(fn) {
  try {
    return await fn();
  } catch (e) {
    throw fromNative(e);
  }
}

function wrapSync(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

// ---------------------------------------------------------- validation

function invalid(message) {
  return new InvalidArgumentError(message);
}

function checkString(what, v) {
  if (typeof v !== 'string') throw invalid(`${what} must be a string, not ${describe(v)}`);
  return v;
}

function optString(what, v) {
  return v == null ? null : checkString(what, v);
}

function checkObject(what, v, allowed) {
  if (v == null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${what} must be an object, not ${describe(v)}`);
  if (allowed) {
    // A misspelt option (`timout`) must not pass silently.
    const unknown = Object.keys(v).filter((k) => !allowed.includes(k) && v[k] !== undefined);
    if (unknown.length) {
      throw invalid(`unknown ${what}: ${unknown.join(', ')} (known: ${allowed.join(', ')})`);
    }
  }
  return v;
}

function optNumber(what, v) {
  if (v == null) return null;
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalid(`${what} must be a number, not ${describe(v)}`);
  return v;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${util.inspect(v)}`;
}

function toBuffer(what, data) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw invalid(`${what} must be a string, Buffer or Uint8Array, not ${describe(data)}`);
}

function optionsJson(options) {
  if (options == null) return null;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`options must be an object, not ${describe(options)}`);
  }
  return JSON.stringify(options);
}

// A command: a string for the terminal's shell, or an argv array.
function execRequest(cmd, opts, stream = false) {
  const keys = ['timeout', 'cwd', 'env', 'stdin', 'maxOutput', 'tty'];
  const o = checkObject(stream ? 'execStream options' : 'execute options', opts, stream ? [...keys, 'stdinOpen'] : keys);
  const req = {};
  if (typeof cmd === 'string') {
    req.shell = cmd;
  } else if (Array.isArray(cmd) && cmd.every((a) => typeof a === 'string')) {
    req.argv = cmd;
  } else {
    throw invalid(`a command is a string (run by the shell) or an array of strings (argv), not ${describe(cmd)}`);
  }
  if (o.env != null) {
    const env = checkObject('env', o.env);
    req.env = {};
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) continue;
      req.env[k] = String(v);
    }
  }
  if (o.cwd != null) req.cwd = checkString('cwd', o.cwd);
  if (o.stdin != null) req.stdin = toBuffer('stdin', o.stdin);
  if (o.timeout != null) req.timeoutMs = optNumber('timeout', o.timeout);
  if (o.maxOutput != null) req.maxOutput = optNumber('maxOutput', o.maxOutput);
  if (o.tty != null) {
    const t = checkObject('tty', o.tty, ['rows', 'cols']);
    const ok = (v) => Number.isInteger(v) && v >= 1 && v <= 65535;
    if (!ok(t.rows) || !ok(t.cols)) throw invalid('tty must be { rows, cols }, each a whole number from 1 to 65535');
    req.ttyRows = t.rows;
    req.ttyCols = t.cols;
  }
  if (o.stdinOpen != null) {
    if (typeof o.stdinOpen !== 'boolean') throw invalid('stdinOpen must be a boolean');
    req.stdinOpen = o.stdinOpen;
  }
  return req;
}

// --------------------------------------------------------------- signals

const SIGNAL_NAMES = {};
for (const [name, num] of Object.entries(os.constants.signals)) {
  if (!(num in SIGNAL_NAMES)) SIGNAL_NAMES[num] = name;
}

function signalName(num) {
  if (num == null) return null;
  return SIGNAL_NAMES[num] || `SIG${num}`;
}

function signalNumber(sig) {
  if (typeof sig === 'number' && Number.isInteger(sig)) return sig;
  if (typeof sig === 'string' && Object.prototype.hasOwnProperty.call(os.constants.signals, sig)) {
    return os.constants.signals[sig];
  }
  throw invalid(`no such signal: ${util.inspect(sig)}`);
}

// --------------------------------------------------------------- results

/** How a command ended and what it printed. A non-zero exit is a result, not an error. */
class ExecResult {
  #stdout;
  #stderr;
  constructor(n) {
    /** Exit status, or null when killed by a signal (or abandoned at a timeout). */
    this.exitCode = n.exitCode ?? null;
    /** The signal that ended it, by name ('SIGKILL'), or null. */
    this.signal = signalName(n.signal);
    this.timedOut = n.timedOut;
    /** Some output was dropped because it went past `maxOutput`. */
    this.truncated = n.truncated;
    /** Wall time in milliseconds. */
    this.duration = n.durationMs;
    this.stdoutBytes = n.stdout;
    this.stderrBytes = n.stderr;
  }

  /** stdout decoded as UTF-8 (invalid sequences become U+FFFD). */
  get stdout() {
    return (this.#stdout ??= this.stdoutBytes.toString('utf8'));
  }

  get stderr() {
    return (this.#stderr ??= this.stderrBytes.toString('utf8'));
  }

  /** exitCode is 0 and the command did not time out. */
  get ok() {
    return this.exitCode === 0 && !this.timedOut;
  }

  /** Returns this result if the command succeeded, else throws an InvalidStateError carrying it. */
  check() {
    if (this.ok) return this;
    let how;
    if (this.timedOut) how = `timed out after ${(this.duration / 1000).toFixed(1)}s`;
    else if (this.signal) how = `was killed by signal ${this.signal}`;
    else how = `exited with status ${this.exitCode}`;
    const tail = this.stderr.slice(-500).trim();
    const err = new InvalidStateError(`command ${how}${tail ? `: ${tail}` : ''}`);
    err.result = this;
    throw err;
  }

  toJSON() {
    return {
      stdout: this.stdout,
      stderr: this.stderr,
      exitCode: this.exitCode,
      signal: this.signal,
      timedOut: this.timedOut,
      truncated: this.truncated,
      duration: this.duration,
    };
  }

  [util.inspect.custom](depth, options, inspect) {
    return `ExecResult ${inspect(this.toJSON(), options)}`;
  }
}

function terminalInfo(i) {
  const info = {
    name: i.name,
    kind: i.kind,
    state: i.state,
    options: i.options,
    createdAt: new Date(i.created_at * 1000),
  };
  if (i.error != null) info.error = i.error;
  return info;
}

// ------------------------------------------------------------ exec stream

/**
 * The events of a running command, as an async iterator:
 * `{type: 'stdout'|'stderr', data: Buffer}` as output arrives, then
 * `{type: 'exit', exitCode, signal, timedOut, truncated, duration}`.
 * Leaving a `for await` early (or close()) kills the command.
 */
class ExecStream {
  #ready;
  #native = null;
  #closed = false;
  #done = false;

  constructor(start) {
    this.#ready = start.then((n) => {
      this.#native = n;
      if (this.#closed) n.close();
      return n;
    });
    // A failed start is reported by the first next(); never an unhandled rejection.
    this.#ready.catch(() => {});
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next() {
    if (this.#done) return { value: undefined, done: true };
    let n;
    try {
      n = await this.#ready;
    } catch (e) {
      this.#done = true;
      throw e;
    }
    const ev = await call(() => n.next());
    if (ev == null) {
      this.#done = true;
      return { value: undefined, done: true };
    }
    if (ev.kind === 'exit') {
      this.#done = true;
      return {
        value: {
          type: 'exit',
          exitCode: ev.exitCode ?? null,
          signal: signalName(ev.signal),
          timedOut: ev.timedOut,
          truncated: ev.truncated,
          duration: ev.durationMs,
        },
        done: false,
      };
    }
    return { value: { type: ev.kind, data: ev.data }, done: false };
  }

  async return() {
    this.close();
    return { value: undefined, done: true };
  }

  /** Sends a signal ('SIGTERM' or a number) to the command's process group. */
  async kill(signal = 'SIGTERM') {
    const num = signalNumber(signal);
    const n = await this.#ready;
    return call(() => n.signal(num));
  }

  /** Writes to the command's stdin (a stream started with stdinOpen). */
  async write(data) {
    const buf = toBuffer('data', data);
    const n = await this.#ready;
    return call(() => n.write(buf));
  }

  /** Ends the command's stdin (EOF; on a pseudo-terminal, ^D). */
  async closeStdin() {
    const n = await this.#ready;
    return call(() => n.closeStdin());
  }

  /** New size for the command's pseudo-terminal (it gets SIGWINCH). */
  async resize(rows, cols) {
    const n = await this.#ready;
    return call(() => n.resize(rows, cols));
  }

  /** Stops reading; a command still running is killed. */
  close() {
    this.#closed = true;
    this.#done = true;
    if (this.#native) this.#native.close();
  }
}

// --------------------------------------------------------------- Terminal

const INTERNAL = Symbol('kled.internal');

/** A handle on one named terminal. Get one from a Manager. */
class Terminal {
  #native;

  constructor(handle, key) {
    if (key !== INTERNAL) {
      throw new TypeError('get a Terminal from manager.createTerminal() or manager.getTerminal()');
    }
    this.#native = handle;
  }

  /** The terminal's name. */
  get name() {
    return this.#native.name;
  }

  /** Its runtime: 'local', 'container', ... */
  get kind() {
    return this.#native.kind;
  }

  /** True after close(). */
  get closed() {
    return this.#native.closed;
  }

  /** The current state: 'created', 'running', 'stopped' or 'failed' (read afresh: another process may change it). */
  state() {
    return call(() => this.#native.state());
  }

  /** What `listTerminals` shows of this terminal. */
  async info() {
    return terminalInfo(JSON.parse(await call(() => this.#native.info())));
  }

  /** Makes the terminal runnable. Idempotent. */
  start() {
    return call(() => this.#native.start());
  }

  /** Stops everything that runs in it and keeps its files. Idempotent. */
  stop() {
    return call(() => this.#native.stop());
  }

  /** Stops the terminal and deletes it and its data. */
  remove() {
    return call(() => this.#native.remove());
  }

  /**
   * Runs a command: a string for the terminal's shell, or an argv array (no shell).
   * Options: timeout (ms), cwd, env, stdin (string or Buffer), maxOutput (bytes per stream).
   */
  async execute(cmd, options) {
    const n = await call(() => this.#native.exec(execRequest(cmd, options)));
    return new ExecResult(n);
  }

  /** Starts a command and returns its events as an async iterator. */
  execStream(cmd, options) {
    return new ExecStream(call(() => this.#native.execStream(execRequest(cmd, options, true))));
  }

  /**
   * Runs a snippet with the language's interpreter (py, js, ts, c, cpp, java, php,
   * rs, go, d, f90, r, bash or the long names). Options: args, stdin, timeout (ms),
   * remote (run on the Code Interpreter API instead; the terminal keeps that session).
   */
  async runCode(lang, code, options) {
    const n = await call(() => {
      const o = checkObject('runCode options', options, ['args', 'stdin', 'timeout', 'remote']);
      if (o.remote != null && typeof o.remote !== 'boolean') {
        throw invalid('remote must be a boolean');
      }
      let args = null;
      if (o.args != null) {
        if (!Array.isArray(o.args) || !o.args.every((a) => typeof a === 'string')) {
          throw invalid('args must be an array of strings');
        }
        args = o.args;
      }
      const stdin = o.stdin == null ? null : toBuffer('stdin', o.stdin);
      return this.#native.runCode(
        checkString('lang', lang),
        checkString('code', code),
        args,
        stdin,
        optNumber('timeout', o.timeout),
        o.remote ?? false
      );
    });
    return new ExecResult(n);
  }

  /** The whole content of a file (relative paths are from the terminal's working directory): a Buffer, or a string given an encoding. */
  async readFile(file, encoding) {
    const buf = await call(() => this.#native.readFile(checkString('path', file)));
    const enc = typeof encoding === 'object' && encoding !== null ? encoding.encoding : encoding;
    return enc == null ? buf : buf.toString(enc);
  }

  /** Writes a file atomically, creating parent directories. Options: mode (e.g. 0o755). */
  async writeFile(file, data, options) {
    return call(() => {
      const o = typeof options === 'number' ? { mode: options } : checkObject('writeFile options', options, ['mode']);
      const mode = optNumber('mode', o.mode);
      if (mode != null && (!Number.isInteger(mode) || mode < 0)) throw invalid(`file mode ${mode} is not a valid mode`);
      return this.#native.writeFile(checkString('path', file), toBuffer('data', data), mode);
    });
  }

  /** The entries of a directory: [{name, kind: 'file'|'dir'|'symlink'|'other', size, mode, mtimeMs}]. */
  async listDir(dir = '.') {
    const entries = JSON.parse(await call(() => this.#native.listDir(checkString('path', dir))));
    // The agent's names are snake_case and its time is in nanoseconds: given as fs.Stats gives them.
    return entries.map((e) => ({ name: e.name, kind: e.kind, size: e.size, mode: e.mode, mtimeMs: e.mtime_ns / 1e6 }));
  }

  /** Releases this handle (the terminal keeps running). Later calls reject with KLED_INVALID_STATE. */
  close() {
    this.#native.close();
  }

  [util.inspect.custom]() {
    return `Terminal { name: ${util.inspect(this.name)}, kind: ${util.inspect(this.kind)}${this.closed ? ', closed' : ''} }`;
  }
}

// ---------------------------------------------------------------- Manager

function newTerminal(handle) {
  return new Terminal(handle, INTERNAL);
}

/**
 * Entry point: creates, finds, lists and removes terminals kept in a state
 * directory (default: $KLED_HOME, else $XDG_STATE_HOME/kled, else
 * ~/.local/state/kled), shared with every other kled process.
 */
class Manager {
  #native;

  /**
   * @param {{stateDir?: string, config?: string | object}} [options]
   *   config: a YAML file path, or the configuration as an object
   *   (`{librechat: {base_url: ...}}`); default: $KLED_CONFIG or ~/.config/kled/config.yaml.
   */
  constructor(options) {
    const o = checkObject('Manager options', options, ['stateDir', 'config']);
    const stateDir = optString('stateDir', o.stateDir);
    let configPath = null;
    let configJson = null;
    if (typeof o.config === 'string') configPath = o.config;
    else if (o.config != null) configJson = JSON.stringify(checkObject('config', o.config));
    this.#native = wrapSync(() => new native.NativeManager(stateDir, configPath, configJson));
  }

  /** The state directory in use. */
  get stateDir() {
    return this.#native.stateDir;
  }

  get closed() {
    return this.#native.closed;
  }

  /** Creates a terminal (it is not started: call start()). */
  async createTerminal(kind, name, options) {
    return newTerminal(
      await call(() =>
        this.#native.createTerminal(checkString('kind', kind), checkString('name', name), optionsJson(options))
      )
    );
  }

  /** A handle on an existing terminal; rejects with NotFoundError. */
  async getTerminal(name) {
    return newTerminal(await call(() => this.#native.getTerminal(checkString('name', name))));
  }

  /**
   * Every terminal, sorted by name: [{name, kind, state, options, createdAt, error?}].
   * Records that cannot be read are skipped with a process warning.
   */
  async listTerminals() {
    const listing = JSON.parse(await call(() => this.#native.listTerminals()));
    for (const p of listing.problems) {
      process.emitWarning(`skipping unreadable terminal record ${p.name}: ${p.error}`, { code: 'KLED_BAD_RECORD' });
    }
    return listing.terminals.map(terminalInfo);
  }

  /** Stops and deletes a terminal. */
  removeTerminal(name) {
    return call(() => this.#native.removeTerminal(checkString('name', name)));
  }

  /**
   * Creates `count` terminals PREFIX-1..N concurrently, all or nothing.
   * Options: options (per terminal), prefix (default: the kind), start, concurrency.
   */
  async createBulkTerminals(kind, count, opts) {
    const handles = await call(() => {
      const o = checkObject('bulk options', opts, ['options', 'prefix', 'start', 'concurrency']);
      if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
        throw invalid(`count must be a whole number, not ${describe(count)}`);
      }
      // Whole numbers only (the addon takes a u32); the core judges the value, 0 included.
      const concurrency = optNumber('concurrency', o.concurrency);
      if (concurrency != null && (!Number.isInteger(concurrency) || concurrency < 0 || concurrency > 0xffffffff)) {
        throw invalid(`concurrency must be a whole number, not ${concurrency}`);
      }
      return this.#native.createBulk(
        checkString('kind', kind),
        count,
        optionsJson(o.options),
        optString('prefix', o.prefix),
        o.start == null ? null : Boolean(o.start),
        concurrency
      );
    });
    return handles.map(newTerminal);
  }

  /** Every runtime, whether it works here, and what it needs: [{kind, available, description, needs, reason?}]. */
  async providers() {
    return JSON.parse(await call(() => this.#native.providers()));
  }

  /** Releases this handle; terminals obtained from it stay usable until closed themselves. */
  close() {
    this.#native.close();
  }

  [util.inspect.custom]() {
    return `Manager { stateDir: ${util.inspect(this.stateDir)}${this.closed ? ', closed' : ''} }`;
  }
}

for (const C of [Manager, Terminal, ExecStream]) {
  if (typeof Symbol.dispose === 'symbol') C.prototype[Symbol.dispose] = C.prototype.close;
}

/** The version of the kled core in this addon. */
const version = native.version();

module.exports = {
  Manager,
  Terminal,
  ExecResult,
  ExecStream,
  KledError,
  NotFoundError,
  AlreadyExistsError,
  InvalidArgumentError,
  RuntimeUnavailableError,
  InvalidStateError,
  TimeoutError,
  AgentError,
  IoError,
  ConfigError,
  version,
  /** @internal counts of live native handles, for leak tests */
  _liveHandles: native.liveHandles,
};
