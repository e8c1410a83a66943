package kled

/*
#include <kled.h>
*/
import "C"

import (
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// ExecResult is how a command ended and what it printed. A non-zero exit,
// a signal or a timeout is a result, not an error.
type ExecResult struct {
	Stdout []byte
	Stderr []byte
	// ExitCode is the exit status, or -1 when the command did not exit by
	// itself (killed by a signal, or by its timeout).
	ExitCode int
	// Signal is the signal that killed the command, or 0.
	Signal int
	// TimedOut: the command ran past its timeout and was killed; the
	// output so far is kept.
	TimedOut bool
	// Truncated: some output was dropped because it exceeded the cap.
	Truncated bool
	Duration  time.Duration
}

// StdoutString is Stdout as a string.
func (r ExecResult) StdoutString() string { return string(r.Stdout) }

// StderrString is Stderr as a string.
func (r ExecResult) StderrString() string { return string(r.Stderr) }

// Success is true when the command exited 0 within its timeout.
func (r ExecResult) Success() bool { return r.ExitCode == 0 && !r.TimedOut }

// CommandError is what ExecResult.Check returns for a command that failed.
type CommandError struct{ Result ExecResult }

func (e *CommandError) Error() string {
	r := e.Result
	var how string
	switch {
	case r.TimedOut:
		how = fmt.Sprintf("timed out after %.1fs", r.Duration.Seconds())
	case r.Signal != 0:
		how = fmt.Sprintf("was killed by signal %d", r.Signal)
	default:
		how = fmt.Sprintf("exited with status %d", r.ExitCode)
	}
	tail := r.Stderr
	if len(tail) > 500 {
		tail = tail[len(tail)-500:]
	}
	return fmt.Sprintf("kled: command %s: %s", how, strings.TrimSpace(string(tail)))
}

// Check is nil when the command succeeded, else a *CommandError.
func (r ExecResult) Check() error {
	if r.Success() {
		return nil
	}
	return &CommandError{Result: r}
}

// ExitStatus is how a streamed command ended (an ExecResult without output).
type ExitStatus struct {
	ExitCode  int
	Signal    int
	TimedOut  bool
	Truncated bool
	Duration  time.Duration
}

func exitStatus(e C.kled_exit) ExitStatus {
	s := ExitStatus{ExitCode: -1, TimedOut: bool(e.timed_out), Truncated: bool(e.truncated),
		Duration: time.Duration(float64(e.duration_secs) * float64(time.Second))}
	if e.has_exit_code {
		s.ExitCode = int(e.exit_code)
	}
	if e.has_signal {
		s.Signal = int(e.signal)
	}
	return s
}

// takeResult copies a C result into Go memory and frees it.
func takeResult(res *C.kled_exec_result) ExecResult {
	defer C.kled_exec_result_free(res)
	var data *C.uint8_t
	var n C.size_t
	var r ExecResult
	C.kled_exec_result_stdout(res, &data, &n)
	r.Stdout = copyBytes(data, n)
	C.kled_exec_result_stderr(res, &data, &n)
	r.Stderr = copyBytes(data, n)
	var e C.kled_exit
	C.kled_exec_result_exit(res, &e)
	s := exitStatus(e)
	r.ExitCode, r.Signal, r.TimedOut, r.Truncated, r.Duration = s.ExitCode, s.Signal, s.TimedOut, s.Truncated, s.Duration
	return r
}

// ExecOption sets something about how a command runs.
type ExecOption func(*execSpec)

// execSpec is libkled's exec spec; stdin travels apart, as bytes.
type execSpec struct {
	Command     any               `json:"command"`
	Env         map[string]string `json:"env,omitempty"`
	Cwd         *string           `json:"cwd,omitempty"`
	TimeoutSecs *float64          `json:"timeout_secs,omitempty"`
	MaxOutput   *uint64           `json:"max_output,omitempty"`
	Tty         *ttySize          `json:"tty,omitempty"`
	StdinOpen   bool              `json:"stdin_open,omitempty"`
	stdin       []byte
	hasStdin    bool
}

// WithTimeout kills the command (its whole process group) after d; the
// result then has TimedOut and the output so far.
func WithTimeout(d time.Duration) ExecOption {
	return func(s *execSpec) { secs := d.Seconds(); s.TimeoutSecs = &secs }
}

// WithCwd runs the command in dir (relative: from the terminal's working directory).
func WithCwd(dir string) ExecOption { return func(s *execSpec) { s.Cwd = &dir } }

// WithEnv adds environment variables for the command.
func WithEnv(env map[string]string) ExecOption {
	return func(s *execSpec) {
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		for k, v := range env {
			s.Env[k] = v
		}
	}
}

// WithStdin feeds data to the command's stdin, then EOF (default: empty stdin).
func WithStdin(data []byte) ExecOption {
	return func(s *execSpec) { s.stdin, s.hasStdin = data, true }
}

// WithMaxOutput caps each of stdout and stderr at n bytes (default 16 MiB).
func WithMaxOutput(n uint64) ExecOption { return func(s *execSpec) { s.MaxOutput = &n } }

type ttySize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// WithTTY runs the command on a pseudo-terminal of rows x cols: stdout and
// stderr merge, lines end in "\r\n". Resize it with Stream.Resize.
func WithTTY(rows, cols uint16) ExecOption {
	return func(s *execSpec) { s.Tty = &ttySize{Rows: rows, Cols: cols} }
}

// WithOpenStdin keeps a stream's stdin open (after WithStdin's data, if
// any): write with Stream.Write, end it with Stream.CloseStdin.
func WithOpenStdin() ExecOption { return func(s *execSpec) { s.StdinOpen = true } }

// build checks the spec's strings (encoding/json would mangle invalid UTF-8)
// and encodes it for C.
func (s *execSpec) build(opts []ExecOption) (cJSON, error) {
	for _, o := range opts {
		o(s)
	}
	check := func(v, what string) error {
		if err := checkText(v, what); err != nil && err.(*Error).Status == StatusInvalidUTF8 {
			return err
		}
		return nil // a NUL travels escaped in JSON, and libkled refuses it with a clear message
	}
	switch c := s.Command.(type) {
	case string:
		if err := check(c, "command"); err != nil {
			return cJSON{}, err
		}
	case []string:
		for _, a := range c {
			if err := check(a, "argument"); err != nil {
				return cJSON{}, err
			}
		}
	}
	for k, v := range s.Env {
		if err := check(k+v, "environment"); err != nil {
			return cJSON{}, err
		}
	}
	if s.Cwd != nil {
		if err := check(*s.Cwd, "cwd"); err != nil {
			return cJSON{}, err
		}
	}
	return toCJSON(s, "exec spec")
}

// Execute runs cmd with the terminal's shell and collects its output.
func (t *Terminal) Execute(cmd string, opts ...ExecOption) (ExecResult, error) {
	return t.execute(&execSpec{Command: cmd}, opts)
}

// ExecuteArgv runs argv directly (no shell) and collects its output. A
// missing program gives exit code 127.
func (t *Terminal) ExecuteArgv(argv []string, opts ...ExecOption) (ExecResult, error) {
	return t.execute(&execSpec{Command: argv}, opts)
}

func (t *Terminal) execute(spec *execSpec, opts []ExecOption) (ExecResult, error) {
	doc, err := spec.build(opts)
	if err != nil {
		return ExecResult{}, err
	}
	defer doc.free()
	var r ExecResult
	err = t.with(func(p *C.kled_terminal) error {
		var res *C.kled_exec_result
		if err := call(func() C.kled_status {
			if !spec.hasStdin {
				return C.kled_terminal_execute(p, doc.ptr(), &res)
			}
			data, n := bytesArg(spec.stdin)
			return C.kled_terminal_execute_with_stdin(p, doc.ptr(), data, n, &res)
		}); err != nil {
			return err
		}
		r = takeResult(res)
		return nil
	})
	return r, err
}

// bytesArg lends a Go byte slice to C for the length of one call.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}
