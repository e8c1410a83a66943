// Type definitions for kled (hand-written; keep in step with index.js).
/// <reference types="node" />

/** A terminal's state. */
export type TerminalState = 'created' | 'running' | 'stopped' | 'failed';

/** Runtime names kled knows (`providers()` says which work here). */
export type TerminalKind = 'local' | 'container' | 'gvisor' | 'kata' | 'neovim' | 'neovim-kata';

/** Data kled accepts as bytes: strings are encoded as UTF-8. */
export type Data = string | Buffer | Uint8Array | ArrayBuffer;

export interface ManagerOptions {
  /** State directory; default $KLED_HOME, else $XDG_STATE_HOME/kled, else ~/.local/state/kled. */
  stateDir?: string;
  /** A YAML config file path, or the configuration itself; default $KLED_CONFIG or ~/.config/kled/config.yaml. */
  config?: string | KledConfig;
}

/** The configuration file's sections (keys as in the YAML file; unknown keys are errors). */
export interface KledConfig {
  coder?: { url?: string; token?: string; timeout?: number };
  kata?: { url?: string; timeout?: number };
  /** The Code Interpreter API that `runCode(..., { remote: true })` uses. */
  librechat?: { base_url?: string; api_key?: string; auth?: 'x-api-key' | 'bearer'; timeout?: number };
  /** Engines for isolated runtimes. */
  isolation?: { gvisor?: { engine?: string; runtime?: string }; kata?: { engine?: string; runtime?: string } };
  /** `kled serve codeapi` (see the kled docs for every key). */
  codeapi?: Record<string, unknown>;
}

/** Options of a local terminal (other runtimes take their own). */
export interface TerminalOptions {
  /** Picks the shell: /bin/sh, /bin/zsh or powershell.exe. */
  os?: 'linux' | 'mac' | 'windows';
  /** Any other shell, e.g. '/bin/bash'. */
  shell?: string;
  /** An absolute directory to work in (kept on remove). */
  workdir?: string;
  /** Environment for every command. */
  env?: Record<string, string>;
  [option: string]: unknown;
}

export interface TerminalInfo {
  name: string;
  kind: TerminalKind;
  state: TerminalState;
  options: Record<string, unknown>;
  createdAt: Date;
  /** Why it failed, when it did. */
  error?: string;
}

export interface Provider {
  kind: TerminalKind;
  /** Terminals of this kind can be created on this machine now. */
  available: boolean;
  description: string;
  /** What the runtime needs installed or configured. */
  needs: string;
  /** Why it is not available, when it is not: the message a create of this kind fails with. */
  reason?: string;
  /** What terminals of this kind can do. */
  caps: Caps;
}

/** What terminals of a kind can do. */
export interface Caps {
  /** Commands can run on a pseudo-terminal, with open stdin (`tty`, `stdinOpen`). */
  tty: boolean;
  /** Commands can be signalled (and are killed by their timeout). */
  signals: boolean;
  /** Buffers can be edited (Neovim kinds). */
  editor: boolean;
  /** Terminals run in a sandbox with a kernel other than the host's. */
  isolated: boolean;
  /** Interactive sessions that outlive their clients. */
  sessions: boolean;
  /** Files can be read, written and listed. */
  files: boolean;
}

export interface BulkOptions {
  /** Options for every terminal. */
  options?: TerminalOptions;
  /** Names are PREFIX-1 .. PREFIX-COUNT; default: the kind. */
  prefix?: string;
  /** Start each terminal too (default false). */
  start?: boolean;
  /** How many are made at once (default 8). */
  concurrency?: number;
}

export interface ExecOptions {
  /** Milliseconds; on expiry the command's process group is killed and the output so far returned with timedOut. */
  timeout?: number;
  /** Working directory (default: the terminal's). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string | number | boolean>;
  /** Fed to the command's stdin, then EOF (without it stdin is empty). */
  stdin?: Data;
  /** Cap per stream in bytes (default 16 MiB); output past it is dropped and truncated set. */
  maxOutput?: number;
  /** Run on a pseudo-terminal of this size: stdout and stderr merge, lines end \r\n. Not on neovim kinds. */
  tty?: { rows: number; cols: number };
}

export interface ExecStreamOptions extends ExecOptions {
  /** Keep stdin open after `stdin` (if any): write() more, closeStdin() to end it. */
  stdinOpen?: boolean;
}

export interface RunCodeOptions {
  /** Arguments for the program. */
  args?: string[];
  stdin?: Data;
  /** Milliseconds. */
  timeout?: number;
  /**
   * Run on the Code Interpreter API (config `librechat`, or LIBRECHAT_CODE_BASEURL and
   * LIBRECHAT_CODE_API_KEY) instead of in the terminal. The terminal keeps that session,
   * so files one remote run writes to /mnt/data are there for the next.
   */
  remote?: boolean;
}

export interface WriteFileOptions {
  /** File mode, e.g. 0o755 (default: the existing file's, else 0o644). */
  mode?: number;
}

export interface DirEntry {
  name: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  /** Last modification in milliseconds since the epoch, as fs.Stats.mtimeMs (0 when the runtime cannot tell). */
  mtimeMs: number;
}

/** A command: a string for the terminal's shell, or an argv run directly (no shell). */
export type Command = string | readonly string[];

/** How a command ended and what it printed. A non-zero exit is a result, not an error. */
export class ExecResult {
  private constructor();
  /** stdout decoded as UTF-8 (invalid sequences become U+FFFD). */
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
  readonly stderrBytes: Buffer;
  /** Exit status; null when killed by a signal or abandoned at a timeout. */
  readonly exitCode: number | null;
  /** The signal that ended it, by name ('SIGKILL'), or null. */
  readonly signal: NodeJS.Signals | string | null;
  readonly timedOut: boolean;
  /** Some output went past maxOutput and was dropped. */
  readonly truncated: boolean;
  /** Wall time in milliseconds. */
  readonly duration: number;
  /** exitCode is 0 and the command did not time out. */
  readonly ok: boolean;
  /** This result if ok, else throws an InvalidStateError whose `result` is this. */
  check(): this;
  toJSON(): {
    stdout: string;
    stderr: string;
    exitCode: number | null;
    signal: string | null;
    timedOut: boolean;
    truncated: boolean;
    duration: number;
  };
}

export type ExecEvent =
  | { type: 'stdout'; data: Buffer }
  | { type: 'stderr'; data: Buffer }
  | {
      type: 'exit';
      exitCode: number | null;
      signal: NodeJS.Signals | string | null;
      timedOut: boolean;
      truncated: boolean;
      /** Milliseconds. */
      duration: number;
    };

/**
 * A running command's events, in order; the last is `exit`. Leaving a
 * `for await` loop early, or close(), kills the command.
 */
export class ExecStream implements AsyncIterableIterator<ExecEvent> {
  private constructor();
  [Symbol.asyncIterator](): this;
  next(): Promise<IteratorResult<ExecEvent, undefined>>;
  return(): Promise<IteratorResult<ExecEvent, undefined>>;
  /** Sends a signal (default SIGTERM) to the command's process group. */
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** Writes to the command's stdin (a stream started with stdinOpen). */
  write(data: Data): Promise<void>;
  /** Ends the command's stdin (EOF; on a pseudo-terminal, ^D). */
  closeStdin(): Promise<void>;
  /** New size for the command's pseudo-terminal (it gets SIGWINCH). */
  resize(rows: number, cols: number): Promise<void>;
  /** Stops reading; a command still running is killed. */
  close(): void;
  /** The same as close(), for `using`. */
  [Symbol.dispose](): void;
}

/** A handle on one named terminal; get one from a Manager. */
export class Terminal {
  private constructor();
  readonly name: string;
  readonly kind: TerminalKind;
  /** True after close(). */
  readonly closed: boolean;
  /** The current state, read afresh (another process may change it). */
  state(): Promise<TerminalState>;
  info(): Promise<TerminalInfo>;
  /** Makes the terminal runnable. Idempotent. */
  start(): Promise<void>;
  /** Stops everything that runs in it; keeps its files. Idempotent. */
  stop(): Promise<void>;
  /** Stops the terminal and deletes it and its data. */
  remove(): Promise<void>;
  execute(cmd: Command, options?: ExecOptions): Promise<ExecResult>;
  /** The command's output as it happens. Errors (a stopped terminal, ...) surface on the first next(). */
  execStream(cmd: Command, options?: ExecStreamOptions): ExecStream;
  /**
   * Runs a snippet with the language's interpreter or compiler: py js ts c cpp java php rs go d f90 r bash sh,
   * or the long names (python, javascript, ...).
   */
  runCode(lang: string, code: string, options?: RunCodeOptions): Promise<ExecResult>;
  /** A file's whole content; relative paths are from the terminal's working directory. */
  readFile(path: string): Promise<Buffer>;
  readFile(path: string, encoding: BufferEncoding | { encoding: BufferEncoding }): Promise<string>;
  /** Writes a file atomically, creating parent directories. */
  writeFile(path: string, data: Data, options?: WriteFileOptions | number): Promise<void>;
  listDir(path?: string): Promise<DirEntry[]>;
  /** Releases this handle (the terminal keeps running); later calls reject with KLED_INVALID_STATE. */
  close(): void;
  /** The same as close(), for `using`. */
  [Symbol.dispose](): void;
}

/** Entry point: creates, finds, lists and removes terminals kept in a state directory. */
export class Manager {
  constructor(options?: ManagerOptions);
  /** The state directory in use. */
  readonly stateDir: string;
  readonly closed: boolean;
  /** Creates a terminal; it is not started (call start()). */
  createTerminal(kind: TerminalKind | string, name: string, options?: TerminalOptions): Promise<Terminal>;
  /** Rejects with NotFoundError when there is none. */
  getTerminal(name: string): Promise<Terminal>;
  /** Every terminal, sorted by name. Unreadable records are skipped with a process warning. */
  listTerminals(): Promise<TerminalInfo[]>;
  removeTerminal(name: string): Promise<void>;
  /** Creates PREFIX-1..COUNT concurrently; all or nothing. */
  createBulkTerminals(kind: TerminalKind | string, count: number, options?: BulkOptions): Promise<Terminal[]>;
  providers(): Promise<Provider[]>;
  /** Releases this handle; terminals obtained from it stay usable until closed themselves. */
  close(): void;
  /** The same as close(), for `using`. */
  [Symbol.dispose](): void;
}

/** The codes of kled's errors, one per kind. */
export type KledErrorCode =
  | 'KLED_NOT_FOUND'
  | 'KLED_ALREADY_EXISTS'
  | 'KLED_INVALID_ARGUMENT'
  | 'KLED_RUNTIME_UNAVAILABLE'
  | 'KLED_INVALID_STATE'
  | 'KLED_TIMEOUT'
  | 'KLED_AGENT'
  | 'KLED_IO'
  | 'KLED_CONFIG';

/** What a KledError is made with: ErrorOptions, and the hint. */
export interface KledErrorOptions extends ErrorOptions {
  hint?: string | null;
}

/** Base class of every error kled raises. */
export class KledError extends Error {
  constructor(message: string, code?: string, options?: KledErrorOptions);
  readonly code: KledErrorCode | string;
  /**
   * The next step, when kled knows one, as a call on this package
   * (e.g. `start it with (await manager.getTerminal("dev")).start()`); the
   * message ends with it too. null otherwise.
   */
  readonly hint: string | null;
  /** Set by ExecResult.check(). */
  result?: ExecResult;
}
/** No terminal (or file) by that name. */
export class NotFoundError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_NOT_FOUND';
}
/** A terminal by that name exists already. */
export class AlreadyExistsError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_ALREADY_EXISTS';
}
/** A bad name, option, language, path or request. */
export class InvalidArgumentError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_INVALID_ARGUMENT';
}
/** The runtime (or a program it needs) is not available on this machine. */
export class RuntimeUnavailableError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_RUNTIME_UNAVAILABLE';
}
/** The terminal (or handle) is not in a state that allows the operation. */
export class InvalidStateError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_INVALID_STATE';
}
/** A deadline passed before the operation finished. */
export class TimeoutError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_TIMEOUT';
}
/** The agent or engine broke the conversation. */
export class AgentError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_AGENT';
}
/** A file-system or OS error on the host. */
export class IoError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_IO';
}
/** The configuration file or environment is wrong. */
export class ConfigError extends KledError {
  constructor(message: string, options?: KledErrorOptions);
  readonly code: 'KLED_CONFIG';
}

/** The version of the kled core in this addon. */
export const version: string;
