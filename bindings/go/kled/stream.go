package kled

/*
#include <kled.h>
*/
import "C"

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// EventKind says what a stream Event carries.
type EventKind int

// The kinds of Event.
const (
	EventStdout EventKind = C.KLED_EVENT_STDOUT
	EventStderr EventKind = C.KLED_EVENT_STDERR
	EventExit   EventKind = C.KLED_EVENT_EXIT
)

// Event is one step of a streamed command: a chunk of output, or its exit.
type Event struct {
	Kind EventKind
	// Data is the chunk, for EventStdout and EventStderr.
	Data []byte
	// Exit is how the command ended, for EventExit.
	Exit ExitStatus
}

// Stream is a running command whose output arrives as it happens. Safe
// for concurrent use (e.g. Signal while another goroutine waits in Next).
// Close before the exit kills the command.
type Stream struct {
	mu  sync.RWMutex
	ptr *C.kled_exec_stream
}

// pollSlice bounds each wait inside libkled, so that a cancelled context
// is noticed and a Signal from another goroutine gets its turn (libkled
// serialises calls on one stream).
const pollSlice = C.int32_t(100)

// Stream starts cmd with the terminal's shell and returns its events.
func (t *Terminal) Stream(cmd string, opts ...ExecOption) (*Stream, error) {
	return t.stream(&execSpec{Command: cmd}, opts)
}

// StreamArgv starts argv directly (no shell) and returns its events.
func (t *Terminal) StreamArgv(argv []string, opts ...ExecOption) (*Stream, error) {
	return t.stream(&execSpec{Command: argv}, opts)
}

func (t *Terminal) stream(spec *execSpec, opts []ExecOption) (*Stream, error) {
	doc, err := spec.build(opts)
	if err != nil {
		return nil, err
	}
	defer doc.free()
	var s *Stream
	err = t.with(func(p *C.kled_terminal) error {
		var ptr *C.kled_exec_stream
		if err := call(func() C.kled_status {
			if !spec.hasStdin {
				return C.kled_terminal_exec_stream(p, doc.ptr(), &ptr)
			}
			data, n := bytesArg(spec.stdin)
			return C.kled_terminal_exec_stream_with_stdin(p, doc.ptr(), data, n, &ptr)
		}); err != nil {
			return err
		}
		atomic.AddInt64(&liveHandles, 1)
		s = &Stream{ptr: ptr}
		runtime.SetFinalizer(s, (*Stream).Close)
		return nil
	})
	return s, err
}

// Next waits for the next event. After the EventExit it returns io.EOF.
// It returns ctx.Err() if ctx ends first (the command goes on).
func (s *Stream) Next(ctx context.Context) (Event, error) {
	for {
		var ev C.kled_event
		var out Event
		err := s.with(func(p *C.kled_exec_stream) error {
			if err := call(func() C.kled_status { return C.kled_exec_stream_next(p, pollSlice, &ev) }); err != nil {
				return err
			}
			// Copied while the handle is held: the chunk is lent until the next call.
			out = Event{Kind: EventKind(ev.kind)}
			switch ev.kind {
			case C.KLED_EVENT_STDOUT, C.KLED_EVENT_STDERR:
				out.Data = copyBytes(ev.data, ev.len)
			case C.KLED_EVENT_EXIT:
				out.Exit = exitStatus(ev.exit)
			}
			return nil
		})
		if err != nil {
			return Event{}, err
		}
		switch ev.kind {
		case C.KLED_EVENT_END:
			return Event{}, io.EOF
		case C.KLED_EVENT_NONE:
			if err := ctx.Err(); err != nil {
				return Event{}, err
			}
			continue
		}
		return out, nil
	}
}

// Signal sends sig to the command's process group.
func (s *Stream) Signal(sig syscall.Signal) error {
	return s.with(func(p *C.kled_exec_stream) error {
		return call(func() C.kled_status { return C.kled_exec_stream_signal(p, C.int32_t(sig)) })
	})
}

// Write sends p to the command's stdin (a stream started WithOpenStdin),
// also while another goroutine waits in Next.
func (s *Stream) Write(p []byte) (int, error) {
	err := s.with(func(ptr *C.kled_exec_stream) error {
		var data *C.uint8_t
		if len(p) > 0 {
			data = (*C.uint8_t)(unsafe.Pointer(&p[0]))
		}
		return call(func() C.kled_status { return C.kled_exec_stream_write(ptr, data, C.size_t(len(p))) })
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseStdin ends the command's stdin (EOF; on a pseudo-terminal, ^D).
func (s *Stream) CloseStdin() error {
	return s.with(func(p *C.kled_exec_stream) error {
		return call(func() C.kled_status { return C.kled_exec_stream_close_stdin(p) })
	})
}

// Resize sets the size of the command's pseudo-terminal (WithTTY); the
// command gets SIGWINCH.
func (s *Stream) Resize(rows, cols uint16) error {
	return s.with(func(p *C.kled_exec_stream) error {
		return call(func() C.kled_status { return C.kled_exec_stream_resize(p, C.uint16_t(rows), C.uint16_t(cols)) })
	})
}

// Close frees the stream, killing the command if it has not exited.
// Closing twice is harmless.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr != nil {
		C.kled_exec_stream_free(s.ptr)
		s.ptr = nil
		atomic.AddInt64(&liveHandles, -1)
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

func (s *Stream) with(f func(*C.kled_exec_stream) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return ErrClosed
	}
	return f(s.ptr)
}
