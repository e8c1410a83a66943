// Package kled is the Go binding of kled: named, long-lived terminals in
// which programs, people and AI agents run commands and code.
//
// It wraps libkled (the C API, include/kled.h) with cgo. Build it against
// an installed libkled (scripts/install-libkled.sh PREFIX) found through
// pkg-config:
//
//	PKG_CONFIG_PATH=PREFIX/lib/pkgconfig go build ./...
//
// Usage:
//
//	m, err := kled.NewManager()
//	t, err := m.CreateTerminal("local", "dev", nil)
//	err = t.Start()
//	r, err := t.Execute("echo hello")
//	fmt.Print(r.StdoutString(), r.ExitCode)
//	err = t.Remove()
//	t.Close(); m.Close()
//
// Managers, terminals and streams are handles on C memory: Close releases
// it (a finalizer does so too, as a backstop). Closing a Terminal handle
// does not stop or remove the terminal, which outlives the process. All
// handles are safe for concurrent use by many goroutines; calls block the
// calling goroutine (and its OS thread) until done.
//
// Errors are *Error values carrying a Status; compare with errors.Is
// against ErrNotFound, ErrAlreadyExists, ErrInvalidArgument and so on.
package kled
