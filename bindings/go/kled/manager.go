package kled

/*
#cgo pkg-config: kled
#include <kled.h>
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// liveHandles counts C handles not yet freed (tests watch the finalizers with it).
var liveHandles int64

// Version is the version of the loaded libkled.
func Version() string { return C.GoString(C.kled_version()) }

// ABIVersion is the C ABI version of the loaded libkled; HeaderABIVersion
// that of the header this package was built with. They differ only when
// the library was swapped under a built program.
func ABIVersion() uint32 { return uint32(C.kled_abi_version()) }

// HeaderABIVersion is KLED_ABI_VERSION of kled.h at build time.
const HeaderABIVersion = uint32(C.KLED_ABI_VERSION)

// Manager creates, finds, lists and removes terminals. Safe for concurrent use.
type Manager struct {
	mu  sync.RWMutex
	ptr *C.kled_manager
}

type managerOptions struct {
	stateDir, configFile string
}

// Option configures NewManager.
type Option func(*managerOptions)

// WithStateDir keeps terminal records in dir instead of the default
// ($KLED_HOME, else $XDG_STATE_HOME/kled, else ~/.local/state/kled).
func WithStateDir(dir string) Option { return func(o *managerOptions) { o.stateDir = dir } }

// WithConfigFile reads the YAML configuration from path instead of the
// default ($KLED_CONFIG, else ~/.config/kled/config.yaml if present).
func WithConfigFile(path string) Option { return func(o *managerOptions) { o.configFile = path } }

// NewManager opens a manager. Close it when done.
func NewManager(opts ...Option) (*Manager, error) {
	var o managerOptions
	for _, opt := range opts {
		opt(&o)
	}
	stateDir, err := optionalCString(o.stateDir, "state dir")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(stateDir))
	configFile, err := optionalCString(o.configFile, "config file")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(configFile))
	var ptr *C.kled_manager
	if err := call(func() C.kled_status { return C.kled_manager_new(stateDir, configFile, &ptr) }); err != nil {
		return nil, err
	}
	atomic.AddInt64(&liveHandles, 1)
	m := &Manager{ptr: ptr}
	runtime.SetFinalizer(m, (*Manager).Close)
	return m, nil
}

// Close frees the manager. Terminals obtained from it stay usable.
// Closing twice is harmless.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ptr != nil {
		C.kled_manager_free(m.ptr)
		m.ptr = nil
		atomic.AddInt64(&liveHandles, -1)
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

// with runs f on the live C handle, or fails with ErrClosed.
func (m *Manager) with(f func(*C.kled_manager) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return ErrClosed
	}
	return f(m.ptr)
}

// CreateTerminal creates a terminal (not started: see Terminal.Start).
// kind is a runtime ("local", "container", ...); opts are its options
// (for "local": os, shell, workdir, env), or nil.
func (m *Manager) CreateTerminal(kind, name string, opts map[string]any) (*Terminal, error) {
	optsJSON, err := optionsJSON(opts)
	if err != nil {
		return nil, err
	}
	defer optsJSON.free()
	var t *Terminal
	err = m.with(func(p *C.kled_manager) error {
		cs, err := cStrings(kind, "kind", name, "name")
		if err != nil {
			return err
		}
		defer cs.free()
		var ptr *C.kled_terminal
		if err := call(func() C.kled_status {
			return C.kled_manager_create_terminal(p, cs.at(0), cs.at(1), optsJSON.ptr(), &ptr)
		}); err != nil {
			return err
		}
		t = newTerminal(ptr)
		return nil
	})
	return t, err
}

// GetTerminal is a handle on an existing terminal.
func (m *Manager) GetTerminal(name string) (*Terminal, error) {
	var t *Terminal
	err := m.with(func(p *C.kled_manager) error {
		cs, err := cStrings(name, "name")
		if err != nil {
			return err
		}
		defer cs.free()
		var ptr *C.kled_terminal
		if err := call(func() C.kled_status { return C.kled_manager_get_terminal(p, cs.at(0), &ptr) }); err != nil {
			return err
		}
		t = newTerminal(ptr)
		return nil
	})
	return t, err
}

// TerminalInfo is what a listing shows of a terminal.
type TerminalInfo struct {
	Name    string         `json:"name"`
	Kind    string         `json:"kind"`
	State   State          `json:"state"`
	Options map[string]any `json:"options"`
	// CreatedAt is in seconds since the Unix epoch.
	CreatedAt int64 `json:"created_at"`
	// Error says why a failed terminal failed.
	Error string `json:"error,omitempty"`
}

// Problem is a terminal record that could not be read (skipped, not fatal).
type Problem struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// Listing is every terminal, sorted by name, and the unreadable records.
type Listing struct {
	Terminals []TerminalInfo `json:"terminals"`
	Problems  []Problem      `json:"problems"`
}

// ListTerminals lists every terminal in the manager's state directory.
func (m *Manager) ListTerminals() (Listing, error) {
	var l Listing
	err := m.with(func(p *C.kled_manager) error {
		return jsonOut(&l, func(out **C.char) C.kled_status { return C.kled_manager_list_terminals(p, out) })
	})
	return l, err
}

// RemoveTerminal stops and deletes a terminal and its data.
func (m *Manager) RemoveTerminal(name string) error {
	return m.with(func(p *C.kled_manager) error {
		cs, err := cStrings(name, "name")
		if err != nil {
			return err
		}
		defer cs.free()
		return call(func() C.kled_status { return C.kled_manager_remove_terminal(p, cs.at(0)) })
	})
}

// BulkOptions configures CreateBulkTerminals.
type BulkOptions struct {
	// Options for each terminal, as for CreateTerminal.
	Options map[string]any
	// Prefix names the terminals Prefix-1..Prefix-N; default: the kind.
	Prefix string
	// Start starts each terminal too.
	Start bool
}

// CreateBulkTerminals creates count terminals concurrently, all or
// nothing: if one fails, those made are removed and the error returned.
func (m *Manager) CreateBulkTerminals(kind string, count int, opts BulkOptions) ([]*Terminal, error) {
	if count < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "count must not be negative"}
	}
	optsJSON, err := optionsJSON(opts.Options)
	if err != nil {
		return nil, err
	}
	defer optsJSON.free()
	prefix, err := optionalCString(opts.Prefix, "prefix")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(prefix))
	var names []string
	err = m.with(func(p *C.kled_manager) error {
		cs, err := cStrings(kind, "kind")
		if err != nil {
			return err
		}
		defer cs.free()
		return jsonOut(&names, func(out **C.char) C.kled_status {
			return C.kled_manager_create_bulk(p, cs.at(0), C.size_t(count), optsJSON.ptr(), prefix, C.bool(opts.Start), out)
		})
	})
	if err != nil {
		return nil, err
	}
	terminals := make([]*Terminal, 0, len(names))
	for _, name := range names {
		t, err := m.GetTerminal(name)
		if err != nil {
			for _, made := range terminals {
				made.Close()
			}
			return nil, err
		}
		terminals = append(terminals, t)
	}
	return terminals, nil
}

// Provider is a runtime, whether it works on this machine, and what it needs.
type Provider struct {
	Kind        string `json:"kind"`
	Available   bool   `json:"available"`
	Description string `json:"description"`
	Needs       string `json:"needs"`
	// Reason says why it is not available, when it is not.
	Reason string `json:"reason,omitempty"`
}

// Providers lists every runtime kled knows.
func (m *Manager) Providers() ([]Provider, error) {
	var ps []Provider
	err := m.with(func(p *C.kled_manager) error {
		return jsonOut(&ps, func(out **C.char) C.kled_status { return C.kled_manager_providers(p, out) })
	})
	return ps, err
}

// StateDir is the manager's state directory.
func (m *Manager) StateDir() (string, error) {
	var dir string
	err := m.with(func(p *C.kled_manager) error {
		var out *C.char
		if err := call(func() C.kled_status { return C.kled_manager_state_dir(p, &out) }); err != nil {
			return err
		}
		dir = C.GoString(out)
		C.kled_string_free(out)
		return nil
	})
	return dir, err
}

// jsonOut calls a libkled function that returns an owned JSON string and decodes it into v.
func jsonOut(v any, f func(**C.char) C.kled_status) error {
	var out *C.char
	if err := call(func() C.kled_status { return f(&out) }); err != nil {
		return err
	}
	defer C.kled_string_free(out)
	return json.Unmarshal([]byte(C.GoString(out)), v)
}
