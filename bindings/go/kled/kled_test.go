package kled

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain keeps the Code Interpreter service out of the environment
// (before libkled starts any thread): the tests name it in config files,
// which LIBRECHAT_CODE_BASEURL and LIBRECHAT_CODE_API_KEY would override.
func TestMain(m *testing.M) {
	for _, v := range []string{"LIBRECHAT_CODE_BASEURL", "LIBRECHAT_CODE_API_KEY", "KLED_LIBRECHAT_AUTH"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

// newManager is a manager on a private state directory; every terminal
// left in it is removed when the test ends.
func newManager(t *testing.T, opts ...Option) *Manager {
	t.Helper()
	base := os.Getenv("KLED_TEST_TMPDIR")
	if base == "" {
		base = "/tmp" // short: agent sockets live under it
	}
	dir, err := os.MkdirTemp(base, "kled-go-")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(append([]Option{WithStateDir(dir)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := m.ListTerminals(); err == nil {
			for _, info := range l.Terminals {
				if err := m.RemoveTerminal(info.Name); err != nil {
					t.Errorf("cleanup: remove %s: %v", info.Name, err)
				}
			}
		}
		m.Close()
		os.RemoveAll(dir)
	})
	return m
}

func startLocal(t *testing.T, m *Manager, name string, opts map[string]any) *Terminal {
	t.Helper()
	term, err := m.CreateTerminal("local", name, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := term.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term
}

func mustRun(t *testing.T, term *Terminal, cmd string, opts ...ExecOption) ExecResult {
	t.Helper()
	r, err := term.Execute(cmd, opts...)
	if err != nil {
		t.Fatalf("execute %q: %v", cmd, err)
	}
	return r
}

func TestVersions(t *testing.T) {
	if Version() == "" || ABIVersion() != HeaderABIVersion || HeaderABIVersion < 1 {
		t.Fatalf("version %q, abi %d, header abi %d", Version(), ABIVersion(), HeaderABIVersion)
	}
	if StatusNotFound.String() != "not_found" || Status(999).String() != "unknown" {
		t.Fatal(StatusNotFound.String(), Status(999).String())
	}
}

func TestLifecycle(t *testing.T) {
	m := newManager(t)
	term, err := m.CreateTerminal("local", "life", map[string]any{"env": map[string]string{"GREETING": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if term.Name() != "life" || term.Kind() != "local" {
		t.Fatal(term.Name(), term.Kind())
	}
	if st, err := term.State(); err != nil || st != StateCreated {
		t.Fatal(st, err)
	}
	if err := term.Start(); err != nil {
		t.Fatal(err)
	}
	if st, _ := term.State(); st != StateRunning {
		t.Fatal(st)
	}
	r := mustRun(t, term, "echo $GREETING")
	if r.StdoutString() != "hi\n" || r.ExitCode != 0 || !r.Success() || r.Check() != nil {
		t.Fatalf("%+v", r)
	}
	info, err := term.Info()
	if err != nil || info.Name != "life" || info.State != StateRunning || info.Kind != "local" || info.CreatedAt == 0 {
		t.Fatalf("%+v %v", info, err)
	}
	l, err := m.ListTerminals()
	if err != nil || len(l.Terminals) != 1 || l.Terminals[0].Name != "life" || len(l.Problems) != 0 {
		t.Fatalf("%+v %v", l, err)
	}

	if err := term.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = term.Execute("true")
	if !errors.Is(err, ErrInvalidState) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("exec on a stopped terminal: %v", err)
	}
	if err := term.Start(); err != nil {
		t.Fatal(err)
	}
	other, err := m.GetTerminal("life")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Remove(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	_, err = term.State()
	var kerr *Error
	if !errors.As(err, &kerr) || kerr.Status != StatusNotFound || !errors.Is(err, ErrNotFound) {
		t.Fatalf("state of a removed terminal: %v", err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if err := term.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := term.Execute("true"); err != ErrClosed {
		t.Fatalf("exec after Close: %v", err)
	}
}

func TestExecSemantics(t *testing.T) {
	m := newManager(t)
	term := startLocal(t, m, "exec", nil)

	r := mustRun(t, term, "echo out; echo err >&2; exit 42")
	if r.StdoutString() != "out\n" || r.StderrString() != "err\n" || r.ExitCode != 42 || r.Signal != 0 {
		t.Fatalf("%+v", r)
	}
	var cerr *CommandError
	if err := r.Check(); !errors.As(err, &cerr) || !strings.Contains(err.Error(), "status 42: err") {
		t.Fatalf("check: %v", err)
	}

	r, err := term.ExecuteArgv([]string{"printf", "%s|%s", "a b", "$HOME"})
	if err != nil || r.StdoutString() != "a b|$HOME" {
		t.Fatalf("%q %v", r.Stdout, err)
	}
	r, _ = term.ExecuteArgv([]string{"no-such-program-kled"})
	if r.ExitCode != 127 {
		t.Fatalf("missing program: %+v", r)
	}

	r = mustRun(t, term, "echo $A$B; pwd", WithEnv(map[string]string{"A": "1"}), WithEnv(map[string]string{"B": "2"}),
		WithCwd("/tmp"))
	if r.StdoutString() != "12\n/tmp\n" {
		t.Fatalf("%q", r.Stdout)
	}

	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r = mustRun(t, term, "cat", WithStdin(all))
	if !bytes.Equal(r.Stdout, all) {
		t.Fatalf("binary stdin came back as %v", r.Stdout)
	}

	r = mustRun(t, term, "kill -9 $$")
	if r.ExitCode != -1 || r.Signal != 9 || r.Success() {
		t.Fatalf("%+v", r)
	}

	started := time.Now()
	r = mustRun(t, term, "echo early; sleep 5", WithTimeout(300*time.Millisecond))
	if !r.TimedOut || r.StdoutString() != "early\n" || time.Since(started) > 4*time.Second || r.Check() == nil {
		t.Fatalf("%+v", r)
	}

	r = mustRun(t, term, "head -c 100000 /dev/zero", WithMaxOutput(1000))
	if len(r.Stdout) != 1000 || !r.Truncated {
		t.Fatalf("len %d truncated %v", len(r.Stdout), r.Truncated)
	}
	if r.Duration <= 0 {
		t.Fatal("no duration")
	}
}

func TestCodeAndFiles(t *testing.T) {
	m := newManager(t)
	term := startLocal(t, m, "files", nil)

	r, err := term.RunCode("bash", "echo $((6 * 7))")
	if err != nil || r.StdoutString() != "42\n" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := term.RunCode("klingon", "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}

	data := []byte("bytes\x00and\xffmore")
	if err := term.WriteFileMode("d/sub/f.bin", data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := term.ReadFile("d/sub/f.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%q %v", got, err)
	}
	if r := mustRun(t, term, "stat -c %a d/sub/f.bin"); r.StdoutString() != "600\n" {
		t.Fatalf("mode %q", r.Stdout)
	}
	if err := term.WriteFileMode("d/setgid", nil, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, term, "stat -c %a d/setgid"); r.StdoutString() != "2755\n" {
		t.Fatalf("mode %q", r.Stdout)
	}
	if err := term.WriteFile("empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := term.ReadFile("empty"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := term.ReadFile("no/such/file"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestRunCodeWith(t *testing.T) {
	m := newManager(t)
	term := startLocal(t, m, "code-with", nil)

	r, err := term.RunCodeWith(CodeRequest{Lang: "bash", Code: `echo "$1|$2"; echo err >&2; exit 3`, Args: []string{"a b", "c"}})
	if err != nil || r.StdoutString() != "a b|c\n" || r.StderrString() != "err\n" || r.ExitCode != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = term.RunCodeWith(CodeRequest{Lang: "sh", Code: "echo early; sleep 5", TimeoutSecs: 0.3})
	if err != nil || !r.TimedOut || r.StdoutString() != "early\n" || r.Duration > 4*time.Second {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := term.RunCodeWith(CodeRequest{Lang: "klingon", Code: "x"}); !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "klingon") {
		t.Fatal(err)
	}
	if _, err := term.RunCodeWith(CodeRequest{Lang: "sh", Code: "true", TimeoutSecs: -1}); !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "request_json") {
		t.Fatal(err)
	}
	if _, err := term.RunCodeWith(CodeRequest{Lang: "sh", Code: "echo \xff"}); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatal(err)
	}
	if _, err := term.RunCodeWith(CodeRequest{Lang: "sh", Code: "true", Args: []string{"\xfe"}}); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatal(err)
	}
}

// configFile writes a kled configuration file for one test.
func configFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A remote run whose service does not answer fails at once, saying where to look.
func TestRunCodeWithRemoteUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	m := newManager(t, WithConfigFile(configFile(t, "librechat:\n  base_url: http://"+addr+"/v1\n  api_key: secret-key-123\n")))
	term, err := m.CreateTerminal("local", "remote-dead", nil) // never started: remote runs need not
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	started := time.Now()
	_, err = term.RunCodeWith(CodeRequest{Lang: "py", Code: "print(1)", Remote: true})
	if !errors.Is(err, ErrRuntimeUnavailable) || !strings.Contains(err.Error(), "LIBRECHAT_CODE_BASEURL") ||
		!strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "secret-key-123") {
		t.Fatal(err)
	}
	if time.Since(started) > 10*time.Second {
		t.Fatalf("took %v", time.Since(started))
	}
	if st, err := term.State(); err != nil || st != StateCreated {
		t.Fatal(st, err)
	}
}

// Remote runs against the `kled serve codeapi` that scripts/suites/20-c-go.sh
// starts: a file one run writes to /mnt/data is there for the terminal's
// next run, and only for that terminal's.
func TestRunCodeWithRemote(t *testing.T) {
	url, key := os.Getenv("KLED_TEST_CODEAPI_URL"), os.Getenv("KLED_TEST_CODEAPI_KEY")
	if url == "" || key == "" {
		if os.Getenv("KLED_REQUIRE_ENGINE") == "1" {
			t.Fatal("KLED_REQUIRE_ENGINE=1 but KLED_TEST_CODEAPI_URL / KLED_TEST_CODEAPI_KEY are not set")
		}
		t.Skip("KLED_TEST_CODEAPI_URL and KLED_TEST_CODEAPI_KEY are not set (scripts/suites/20-c-go.sh sets them)")
	}
	m := newManager(t, WithConfigFile(configFile(t, fmt.Sprintf("librechat:\n  base_url: %s\n  api_key: %s\n  timeout: 240\n", url, key))))
	term, err := m.CreateTerminal("local", "remote", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	r, err := term.RunCodeWith(CodeRequest{Lang: "py", Code: "open('/mnt/data/go.txt', 'w').write('written by run 1')\nprint(6 * 7)", Remote: true})
	if err != nil || r.StdoutString() != "42\n" || r.ExitCode != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = term.RunCodeWith(CodeRequest{Lang: "python", Code: "import sys\nprint(open('/mnt/data/go.txt').read(), sys.argv[1:])", Args: []string{"x"}, TimeoutSecs: 120, Remote: true})
	if err != nil || r.StdoutString() != "written by run 1 ['x']\n" || r.ExitCode != 0 {
		t.Fatalf("second run: %+v %v", r, err)
	}
	// Another terminal has its own session: the file is not there.
	other, err := m.CreateTerminal("local", "remote-other", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r, err = other.RunCodeWith(CodeRequest{Lang: "py", Code: "import os\nprint(os.path.exists('/mnt/data/go.txt'))", Remote: true})
	if err != nil || r.StdoutString() != "False\n" {
		t.Fatalf("other terminal: %+v %v", r, err)
	}
	if _, err := term.RunCodeWith(CodeRequest{Lang: "cobol", Code: "x", Remote: true}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
}

func TestStream(t *testing.T) {
	m := newManager(t)
	term := startLocal(t, m, "stream", nil)
	ctx := context.Background()

	s, err := term.Stream("echo a; sleep 0.2; echo b >&2; exit 7")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut []byte
	var exit ExitStatus
	for {
		ev, err := s.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case EventStdout:
			out = append(out, ev.Data...)
		case EventStderr:
			errOut = append(errOut, ev.Data...)
		case EventExit:
			exit = ev.Exit
		}
	}
	if string(out) != "a\n" || string(errOut) != "b\n" || exit.ExitCode != 7 {
		t.Fatalf("%q %q %+v", out, errOut, exit)
	}
	if _, err := s.Next(ctx); err != io.EOF {
		t.Fatal("after the end:", err)
	}
	s.Close()

	// A signal from another goroutine while Next waits.
	s, err = term.StreamArgv([]string{"sleep", "30"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		if err := s.Signal(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
	}()
	ev, err := s.Next(ctx)
	if err != nil || ev.Kind != EventExit || ev.Exit.Signal != int(syscall.SIGTERM) || ev.Exit.ExitCode != -1 {
		t.Fatalf("%+v %v", ev, err)
	}
	s.Close()

	// A context that ends first.
	s, err = term.Stream("sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := s.Next(short); err != context.DeadlineExceeded {
		t.Fatal(err)
	}
	s.Close() // kills it
	if _, err := s.Next(ctx); err != ErrClosed {
		t.Fatal(err)
	}

	s, err = term.Stream("cat", WithStdin([]byte("xyz")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(ctx); err != nil || string(ev.Data) != "xyz" {
		t.Fatalf("%+v %v", ev, err)
	}
}

func TestErrors(t *testing.T) {
	m := newManager(t)
	_, err := m.GetTerminal("nope")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), `"nope"`) ||
		!strings.Contains(err.Error(), "(not_found)") {
		t.Fatal(err)
	}
	if err := m.RemoveTerminal("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	for _, name := range []string{"-bad", "a/b", "", strings.Repeat("a", 99), "with\x00nul"} {
		if _, err := m.CreateTerminal("local", name, nil); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("name %q: %v", name, err)
		}
	}
	if _, err := m.CreateTerminal("local", "bad-\xff", nil); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatal(err)
	}
	if _, err := m.CreateTerminal("no-such-runtime", "x", nil); !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "known runtimes") {
		t.Fatal(err)
	}
	if _, err := m.CreateTerminal("local", "x", map[string]any{"bogus": 1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
	if _, err := m.CreateTerminal("local", "x", map[string]any{"f": func() {}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal("unencodable options:", err)
	}
	term := startLocal(t, m, "twice", nil)
	if _, err := m.CreateTerminal("local", "twice", nil); !errors.Is(err, ErrAlreadyExists) {
		t.Fatal(err)
	}
	if _, err := term.Execute("echo \xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatal(err)
	}
	if _, err := term.Execute("echo a\x00b"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
	if _, err := term.Execute("   "); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
	if _, err := term.Execute("true", WithEnv(map[string]string{"A=B": "x"})); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
	if _, err := NewManager(WithStateDir(t.TempDir()), WithConfigFile("/nonexistent/kled.yaml")); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
}

func TestBulkProvidersStateDir(t *testing.T) {
	m := newManager(t)
	ts, err := m.CreateBulkTerminals("local", 3, BulkOptions{Prefix: "w", Start: true,
		Options: map[string]any{"env": map[string]string{"B": "1"}}})
	if err != nil || len(ts) != 3 {
		t.Fatal(err)
	}
	for i, term := range ts {
		if term.Name() != fmt.Sprintf("w-%d", i+1) {
			t.Fatal(term.Name())
		}
		if r := mustRun(t, term, "echo $B"); r.StdoutString() != "1\n" {
			t.Fatalf("%q", r.Stdout)
		}
		term.Remove()
		term.Close()
	}
	if _, err := m.CreateBulkTerminals("local", 0, BulkOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}

	ps, err := m.Providers()
	if err != nil || len(ps) < 2 || ps[0].Kind != "local" || !ps[0].Available {
		t.Fatalf("%+v %v", ps, err)
	}
	dir, err := m.StateDir()
	if err != nil || !filepath.IsAbs(dir) || !strings.Contains(dir, "kled-go-") {
		t.Fatal(dir, err)
	}
}

// Many goroutines on one manager and one terminal, plus terminals of their
// own, plus handles closed while others are in use.
func TestConcurrentUse(t *testing.T) {
	m := newManager(t)
	shared := startLocal(t, m, "shared", nil)
	var wg sync.WaitGroup
	var failures int64
	fail := func(format string, args ...any) {
		atomic.AddInt64(&failures, 1)
		t.Errorf(format, args...)
	}
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				want := fmt.Sprintf("%d-%d", g, j)
				r, err := shared.ExecuteArgv([]string{"printf", "%s", want})
				if err != nil || r.StdoutString() != want {
					fail("goroutine %d: %q %v", g, r.Stdout, err)
				}
			}
			if _, err := m.GetTerminal(fmt.Sprintf("missing-%d", g)); !strings.Contains(fmt.Sprint(err), fmt.Sprintf(`"missing-%d"`, g)) {
				fail("goroutine %d got another goroutine's error: %v", g, err)
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := fmt.Sprintf("own-%d", g)
			term, err := m.CreateTerminal("local", name, nil)
			if err != nil {
				fail("%s: %v", name, err)
				return
			}
			defer term.Close()
			if err := term.Start(); err != nil {
				fail("%s: %v", name, err)
			}
			if r, err := term.Execute("echo " + name); err != nil || r.StdoutString() != name+"\n" {
				fail("%s: %q %v", name, r.Stdout, err)
			}
			if err := term.Remove(); err != nil {
				fail("%s: %v", name, err)
			}
		}(g)
	}
	// A second handle, closed while goroutines use it: each call either
	// runs or says ErrClosed, never crashes.
	second, err := m.GetTerminal("shared")
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, err := second.Execute("true"); err != nil && err != ErrClosed {
					fail("racing Close: %v", err)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	second.Close()
	wg.Wait()
	if failures > 0 {
		t.Fatalf("%d failures", failures)
	}
}

// Handles that are never closed are freed by their finalizers.
func TestFinalizersFreeForgottenHandles(t *testing.T) {
	m := newManager(t)
	startLocal(t, m, "forgotten", nil)
	runtime.GC()
	before := atomic.LoadInt64(&liveHandles)
	func() {
		for i := 0; i < 20; i++ {
			term, err := m.GetTerminal("forgotten")
			if err != nil {
				t.Fatal(err)
			}
			s, err := term.Stream("true")
			if err != nil {
				t.Fatal(err)
			}
			_ = s
		}
	}()
	if atomic.LoadInt64(&liveHandles) != before+40 {
		t.Fatalf("live handles %d, want %d", atomic.LoadInt64(&liveHandles), before+40)
	}
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&liveHandles) > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := atomic.LoadInt64(&liveHandles); n != before {
		t.Fatalf("live handles %d after GC, want %d", n, before)
	}
}

func TestStreamControl(t *testing.T) {
	m := newManager(t)
	term := startLocal(t, m, "control", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	collect := func(s *Stream) (string, ExitStatus) {
		var out strings.Builder
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch ev.Kind {
			case EventStdout, EventStderr:
				out.Write(ev.Data)
			case EventExit:
				return out.String(), ev.Exit
			}
		}
	}

	s, err := term.Stream("cat; echo done", WithOpenStdin())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := io.WriteString(s, "one "); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if out, st := collect(s); out != "one two\ndone\n" || st.ExitCode != 0 {
		t.Fatalf("%q %+v", out, st)
	}

	p, err := term.Stream("sleep 0.3; stty size", WithTTY(24, 80))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Resize(0, 80); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal(err)
	}
	if err := p.Resize(50, 132); err != nil {
		t.Fatal(err)
	}
	if out, _ := collect(p); out != "50 132\r\n" {
		t.Fatalf("%q", out)
	}
}
