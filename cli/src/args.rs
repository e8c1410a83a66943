//! Command-line syntax (the contract in DESIGN.md): argument types only,
//! importing nothing else of the CLI.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Parser, Debug)]
#[command(
    name = "kled",
    version,
    long_version = version_text(),
    about = "Named, long-lived terminals for programs, people and AI agents"
)]
pub struct Cli {
    /// Configuration file (YAML). Default: $KLED_CONFIG, else ~/.config/kled/config.yaml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory. Default: $KLED_HOME, $XDG_STATE_HOME/kled, ~/.local/state/kled.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Top,
}

#[derive(Subcommand, Debug)]
pub enum Top {
    /// Create, run commands in, and remove terminals.
    #[command(subcommand)]
    Terminal(TerminalCmd),
    /// The same for Neovim terminals (runtime neovim, or neovim-kata with --kata).
    #[command(subcommand)]
    Neovim(NeovimCmd),
    /// Serve the terminals as Model Context Protocol tools (stdio, or streamable HTTP with --http).
    Mcp(McpArgs),
    /// Run code on the Code Interpreter API (LIBRECHAT_CODE_BASEURL); no terminal needed.
    Code(RemoteCodeArgs),
    /// Serve an API on kled terminals.
    #[command(subcommand)]
    Serve(ServeCmd),
    /// Print a shell completion script on stdout: `kled completions bash > /etc/bash_completion.d/kled`.
    Completions(CompletionsArgs),
    /// Print the man page kled.1 (or write every page with --out-dir).
    Man(ManArgs),
}

impl Top {
    /// Exit status for kled's own failures. exec and code pass the command's
    /// status through, so their own failures use 125 (as `docker run` does).
    pub fn failure_code(&self) -> u8 {
        match self {
            Top::Terminal(TerminalCmd::Exec(_) | TerminalCmd::Code(_)) => 125,
            Top::Neovim(NeovimCmd::Exec(_) | NeovimCmd::Code(_)) => 125,
            Top::Code(_) => 125,
            _ => 1,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TerminalCmd {
    /// Create a terminal and start it (unless --no-start).
    Create(CreateArgs),
    /// List terminals.
    #[command(alias = "ls")]
    List(ListArgs),
    /// Run a command with the terminal's shell; exits with its status.
    Exec(ExecArgs),
    /// Run a code snippet (CODE "-" reads stdin).
    Code(CodeArgs),
    /// Start a terminal (idempotent).
    Start(NameArg),
    /// Stop a terminal, keeping its data (idempotent).
    Stop(NameArg),
    /// Stop and delete a terminal.
    #[command(alias = "remove")]
    Rm(NameArg),
    /// Create and start COUNT terminals named PREFIX-1..COUNT, all or nothing.
    Bulk(BulkArgs),
    /// Every runtime, whether it works here, and what it needs.
    Providers(ListArgs),
}

#[derive(Subcommand, Debug)]
pub enum NeovimCmd {
    /// Neovim terminals.
    List(ListArgs),
    /// Create (if needed) and start a Neovim terminal.
    Start(NeovimStartArgs),
    Exec(ExecArgs),
    Stop(NameArg),
    Bulk(NeovimBulkArgs),
    Code(CodeArgs),
    Providers(ListArgs),
    /// Replace lines of a file through the editor, and write it (see also `read`).
    Edit(NeovimEditArgs),
    /// Print lines of a file as the editor's buffer has them.
    Read(NeovimReadArgs),
    /// List the editor's buffers (open files, and the command log kled://log).
    Buffers(NeovimBuffersArgs),
    /// Watch the terminal: an interactive Neovim on its server (Neovim 0.9+),
    /// else the log of the commands that ran in it.
    Attach(NameArg),
}

#[derive(Args, Debug)]
pub struct NeovimEditArgs {
    pub name: String,
    /// The file (relative paths are from the terminal's working directory).
    pub file: String,
    /// Lines to replace, 1-based and inclusive: A:B, A (one line), A: (to the
    /// end), :B. B = A-1 inserts before line A. Default: the whole file.
    #[arg(long, value_name = "A:B")]
    pub lines: Option<String>,
    /// The new text ("-" reads stdin); its lines replace the range. Empty deletes it.
    #[arg(long)]
    pub text: String,
    /// Leave the change in the buffer without writing the file.
    #[arg(long)]
    pub no_write: bool,
}

#[derive(Args, Debug)]
pub struct NeovimReadArgs {
    pub name: String,
    pub file: String,
    /// Lines to print, 1-based and inclusive: A:B, A, A:, :B. Default: all.
    #[arg(long, value_name = "A:B")]
    pub lines: Option<String>,
    /// Prefix each line with its number.
    #[arg(short = 'n', long)]
    pub numbers: bool,
}

#[derive(Args, Debug)]
pub struct NeovimBuffersArgs {
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NameArg {
    pub name: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct OptionArgs {
    /// Container image (container runtimes).
    #[arg(long)]
    pub image: Option<String>,
    /// CPUs (container runtimes).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory in MiB (container runtimes).
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,
    /// Operating-system flavour, which picks the shell: linux (/bin/sh), mac (/bin/zsh), windows (powershell.exe).
    #[arg(long = "env", value_name = "linux|windows|mac")]
    pub os: Option<String>,
    /// Any runtime option; VALUE is JSON if it parses, else a string. KEY may be dotted: env.FOO=bar.
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Runtime: local, container, gvisor, kata, neovim, neovim-kata.
    #[arg(long, default_value = "local")]
    pub runtime: String,
    #[command(flatten)]
    pub options: OptionArgs,
    /// Only create; start later with `kled terminal start`.
    #[arg(long)]
    pub no_start: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub name: String,
    /// Kill the command (and everything it started) after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Working directory inside the terminal.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Environment variable for the command.
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Send this process's stdin to the command (read to EOF first; with -t, as it comes).
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Run the command on a pseudo-terminal of this terminal's size (stdout and stderr merge).
    /// With -i as well, an interactive session: keys go through raw, and resizes follow.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Wait for the end and print the result as JSON (stdout, stderr, exit_code, ...; stdout_b64 and
    /// stderr_b64 hold the exact bytes of a stream that is not UTF-8).
    #[arg(long)]
    pub json: bool,
    /// Keep at most this many bytes of each stream (the rest is dropped, and `truncated` set).
    /// Default: all of it when streaming, 16 MiB with --json (which then fails if it had to cut).
    #[arg(long, value_name = "BYTES")]
    pub max_output: Option<u64>,
    /// The command; its words are joined with spaces and run by the terminal's shell.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CodeArgs {
    pub name: String,
    /// Language: py js ts c cpp java php rs go d f90 r bash sh, or a long name.
    #[arg(long)]
    pub lang: String,
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Run on the Code Interpreter API (LIBRECHAT_CODE_BASEURL) instead of in the terminal; the
    /// terminal keeps the remote session, so files one remote run writes are there for the next.
    #[arg(long)]
    pub remote: bool,
    /// The code, or "-" to read it from stdin.
    pub code: String,
}

#[derive(Args, Debug)]
pub struct BulkArgs {
    pub count: usize,
    /// Name prefix (default: the runtime name).
    #[arg(long)]
    pub prefix: Option<String>,
    #[arg(long, default_value = "local")]
    pub runtime: String,
    #[command(flatten)]
    pub options: OptionArgs,
    /// How many to create at once.
    #[arg(long, default_value_t = kled::DEFAULT_BULK_CONCURRENCY)]
    pub concurrency: usize,
    /// Only create them.
    #[arg(long)]
    pub no_start: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NeovimStartArgs {
    pub name: String,
    /// Run Neovim inside an isolated container (runtime neovim-kata).
    #[arg(long)]
    pub kata: bool,
    #[command(flatten)]
    pub options: OptionArgs,
}

#[derive(Args, Debug)]
pub struct NeovimBulkArgs {
    pub count: usize,
    #[arg(long)]
    pub prefix: Option<String>,
    /// Run each Neovim inside an isolated container (runtime neovim-kata).
    #[arg(long)]
    pub kata: bool,
    #[command(flatten)]
    pub options: OptionArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RemoteCodeArgs {
    /// Language: py js ts c cpp java php rs go d f90 r bash, or a long name.
    #[arg(long)]
    pub lang: String,
    /// Upload FILE first; the code finds it as /mnt/data/NAME. Repeatable.
    #[arg(long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Save the files the run made into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Arguments for the program. Repeatable.
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Give up after SECS (retries included).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Print the server's answer as JSON (session_id, stdout, stderr, files).
    #[arg(long)]
    pub json: bool,
    /// The code, or "-" to read it from stdin.
    pub code: String,
}

#[derive(Subcommand, Debug)]
pub enum ServeCmd {
    /// LibreChat's Code Interpreter API on kled sandboxes; point LIBRECHAT_CODE_BASEURL at http://ADDR/v1.
    Codeapi(ServeCodeApiArgs),
}

#[derive(Args, Debug)]
pub struct ServeCodeApiArgs {
    /// Listen on ADDR (HOST:PORT, or a bare PORT on 127.0.0.1). Default: codeapi.listen from the config.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Sandbox runtime (gvisor, container, kata). Default: codeapi.sandbox.kind from the config, else gvisor.
    #[arg(long, value_name = "KIND")]
    pub runtime: Option<String>,
    /// Sandbox image. Default: codeapi.sandbox.options.image, else localhost/kled-debian.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
}

#[derive(Args, Debug)]
pub struct McpArgs {
    /// Serve streamable HTTP on ADDR (e.g. 127.0.0.1:8765; port 0 picks a free port) instead of stdio.
    /// The endpoint is http://ADDR/mcp. There is no authentication: keep ADDR on loopback.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write kled.1 and one page per subcommand (kled-terminal-exec.1, ...)
    /// into DIR, instead of kled.1 on stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// `kled --version` (`-V` prints the first line only, and man pages use
/// that): this build, the kled-agent embedded in it, and the agent protocol
/// they speak. core/build.rs builds the embedded agent from
/// this same workspace, so it carries the same crate version.
pub fn version_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let agent = kled::agent::agent_bytes().len();
        format!(
            "{v}\nagent {v} (embedded static kled-agent, {:.1} MB)\nprotocol {}",
            agent as f64 / 1_048_576.0,
            kled::protocol::PROTOCOL_VERSION,
            v = kled::VERSION,
        )
    })
}
