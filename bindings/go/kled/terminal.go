package kled

/*
#include <kled.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// State is the lifecycle state of a terminal.
type State int

// The states of a terminal.
const (
	StateCreated State = C.KLED_STATE_CREATED
	StateRunning State = C.KLED_STATE_RUNNING
	StateStopped State = C.KLED_STATE_STOPPED
	StateFailed  State = C.KLED_STATE_FAILED
)

var stateNames = map[State]string{
	StateCreated: "created", StateRunning: "running", StateStopped: "stopped", StateFailed: "failed",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// UnmarshalText reads the names that listings use ("running", ...).
func (s *State) UnmarshalText(text []byte) error {
	for st, n := range stateNames {
		if n == string(text) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("kled: unknown terminal state %q", text)
}

// Terminal is a handle on one named terminal. Close frees the handle only:
// the terminal lives on (Remove deletes it). Safe for concurrent use.
type Terminal struct {
	mu   sync.RWMutex
	ptr  *C.kled_terminal
	name string
	kind string
}

func newTerminal(ptr *C.kled_terminal) *Terminal {
	var name, kind *C.char
	// Both only fail for NULL arguments, which these are not.
	C.kled_terminal_name(ptr, &name)
	C.kled_terminal_kind(ptr, &kind)
	atomic.AddInt64(&liveHandles, 1)
	t := &Terminal{ptr: ptr, name: C.GoString(name), kind: C.GoString(kind)}
	runtime.SetFinalizer(t, (*Terminal).Close)
	return t
}

// Close frees the handle (not the terminal). Closing twice is harmless.
func (t *Terminal) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ptr != nil {
		C.kled_terminal_free(t.ptr)
		t.ptr = nil
		atomic.AddInt64(&liveHandles, -1)
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

func (t *Terminal) with(f func(*C.kled_terminal) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.ptr == nil {
		return ErrClosed
	}
	return f(t.ptr)
}

// Name is the terminal's name.
func (t *Terminal) Name() string { return t.name }

// Kind is the terminal's runtime ("local", ...).
func (t *Terminal) Kind() string { return t.kind }

// State reads the terminal's current state (another process may change it).
func (t *Terminal) State() (State, error) {
	var st C.kled_state
	err := t.with(func(p *C.kled_terminal) error {
		return call(func() C.kled_status { return C.kled_terminal_state(p, &st) })
	})
	return State(st), err
}

// Info is what a listing shows of this terminal.
func (t *Terminal) Info() (TerminalInfo, error) {
	var info TerminalInfo
	err := t.with(func(p *C.kled_terminal) error {
		return jsonOut(&info, func(out **C.char) C.kled_status { return C.kled_terminal_info(p, out) })
	})
	return info, err
}

// Start makes the terminal runnable. Idempotent.
func (t *Terminal) Start() error {
	return t.with(func(p *C.kled_terminal) error {
		return call(func() C.kled_status { return C.kled_terminal_start(p) })
	})
}

// Stop stops everything running in the terminal and keeps its data. Idempotent.
func (t *Terminal) Stop() error {
	return t.with(func(p *C.kled_terminal) error {
		return call(func() C.kled_status { return C.kled_terminal_stop(p) })
	})
}

// Remove stops the terminal and deletes it and its data. The handle still
// needs Close.
func (t *Terminal) Remove() error {
	return t.with(func(p *C.kled_terminal) error {
		return call(func() C.kled_status { return C.kled_terminal_remove(p) })
	})
}

// RunCode runs a snippet with the language's interpreter in the terminal.
// lang: py js ts c cpp java php rs go d f90 r bash, or long names (python, ...).
func (t *Terminal) RunCode(lang, code string) (ExecResult, error) {
	var r ExecResult
	err := t.with(func(p *C.kled_terminal) error {
		cs, err := cStrings(lang, "lang", code, "code")
		if err != nil {
			return err
		}
		defer cs.free()
		var res *C.kled_exec_result
		if err := call(func() C.kled_status { return C.kled_terminal_run_code(p, cs.at(0), cs.at(1), &res) }); err != nil {
			return err
		}
		r = takeResult(res)
		return nil
	})
	return r, err
}

// CodeRequest is a RunCodeWith request.
type CodeRequest struct {
	// Lang: py js ts c cpp java php rs go d f90 r bash, or long names (python, ...).
	Lang string `json:"lang"`
	// Code is the program's source.
	Code string `json:"code"`
	// Args are the program's arguments.
	Args []string `json:"args,omitempty"`
	// TimeoutSecs kills a local run after this many seconds (the result then
	// has TimedOut); for a remote run it bounds the whole call, whose expiry
	// is an ErrTimeout error. 0: no timeout of its own.
	TimeoutSecs float64 `json:"timeout_secs,omitempty"`
	// Remote runs the code on the Code Interpreter API (LibreChat's, or
	// `kled serve codeapi`) instead of inside the terminal, which then need
	// not be started. The service is librechat.base_url in the configuration
	// or $LIBRECHAT_CODE_BASEURL, its key librechat.api_key or
	// $LIBRECHAT_CODE_API_KEY. The terminal remembers its remote session: a
	// file one remote run writes to /mnt/data is there for the next.
	Remote bool `json:"remote,omitempty"`
}

// RunCodeWith runs a snippet as RunCode does, with arguments, a timeout, or
// remotely (see CodeRequest). A remote run's ExitCode is -1 when the service
// reports none. A service that cannot be reached is an ErrRuntimeUnavailable
// error naming LIBRECHAT_CODE_BASEURL; a refused key is ErrConfig.
func (t *Terminal) RunCodeWith(req CodeRequest) (ExecResult, error) {
	for _, s := range append([]string{req.Lang, req.Code}, req.Args...) {
		// encoding/json would replace invalid UTF-8 without a word; a NUL
		// travels escaped and libkled refuses it by name.
		if err := checkText(s, "code request"); err != nil && err.(*Error).Status == StatusInvalidUTF8 {
			return ExecResult{}, err
		}
	}
	doc, err := toCJSON(req, "code request")
	if err != nil {
		return ExecResult{}, err
	}
	defer doc.free()
	var r ExecResult
	err = t.with(func(p *C.kled_terminal) error {
		var res *C.kled_exec_result
		if err := call(func() C.kled_status { return C.kled_terminal_run_code_with(p, doc.ptr(), &res) }); err != nil {
			return err
		}
		r = takeResult(res)
		return nil
	})
	return r, err
}

// ReadFile reads a whole file in the terminal (relative to its working directory).
func (t *Terminal) ReadFile(path string) ([]byte, error) {
	var data []byte
	err := t.with(func(p *C.kled_terminal) error {
		cs, err := cStrings(path, "path")
		if err != nil {
			return err
		}
		defer cs.free()
		var buf C.kled_buf
		if err := call(func() C.kled_status { return C.kled_terminal_read_file(p, cs.at(0), &buf) }); err != nil {
			return err
		}
		data = copyBytes(buf.data, buf.len)
		C.kled_buf_free(&buf)
		return nil
	})
	return data, err
}

// WriteFile writes a file in the terminal atomically, creating parent
// directories; it keeps an existing file's mode, else 0644.
func (t *Terminal) WriteFile(path string, data []byte) error {
	return t.writeFile(path, data, -1)
}

// WriteFileMode is WriteFile with the permission bits given.
func (t *Terminal) WriteFileMode(path string, data []byte, mode fs.FileMode) error {
	bits := uint32(mode.Perm())
	// Go keeps the special bits apart from the Unix ones.
	for flag, unix := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if mode&flag != 0 {
			bits |= unix
		}
	}
	return t.writeFile(path, data, int32(bits))
}

func (t *Terminal) writeFile(path string, data []byte, mode int32) error {
	return t.with(func(p *C.kled_terminal) error {
		cs, err := cStrings(path, "path")
		if err != nil {
			return err
		}
		defer cs.free()
		var ptr *C.uint8_t
		if len(data) > 0 {
			ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
		}
		return call(func() C.kled_status {
			return C.kled_terminal_write_file(p, cs.at(0), ptr, C.size_t(len(data)), C.int32_t(mode))
		})
	})
}

// copyBytes copies n bytes of C memory into Go memory.
func copyBytes(data *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return []byte{}
	}
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
	return out
}
