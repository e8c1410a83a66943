package kled

/*
#include <kled.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
)

// Status is the kind of a failure: libkled's kled_status.
type Status int32

// The statuses of libkled (KLED_ERR_* in kled.h).
const (
	StatusNotFound           Status = C.KLED_ERR_NOT_FOUND
	StatusAlreadyExists      Status = C.KLED_ERR_ALREADY_EXISTS
	StatusInvalidArgument    Status = C.KLED_ERR_INVALID_ARGUMENT
	StatusRuntimeUnavailable Status = C.KLED_ERR_RUNTIME_UNAVAILABLE
	StatusInvalidState       Status = C.KLED_ERR_INVALID_STATE
	StatusTimeout            Status = C.KLED_ERR_TIMEOUT
	StatusAgent              Status = C.KLED_ERR_AGENT
	StatusIO                 Status = C.KLED_ERR_IO
	StatusConfig             Status = C.KLED_ERR_CONFIG
	StatusNullArgument       Status = C.KLED_ERR_NULL_ARGUMENT
	StatusInvalidUTF8        Status = C.KLED_ERR_INVALID_UTF8
	StatusPanic              Status = C.KLED_ERR_PANIC
)

// String is the status's stable name: "not_found", "invalid_argument", ...
func (s Status) String() string {
	return C.GoString(C.kled_status_name(C.int32_t(s)))
}

// Error is a failure reported by libkled.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("kled: %s (%s)", e.Message, e.Status)
}

// Is makes errors.Is(err, kled.ErrNotFound) and the like match on the status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is: they match any *Error with the same status.
var (
	ErrNotFound           = &Error{Status: StatusNotFound}
	ErrAlreadyExists      = &Error{Status: StatusAlreadyExists}
	ErrInvalidArgument    = &Error{Status: StatusInvalidArgument}
	ErrRuntimeUnavailable = &Error{Status: StatusRuntimeUnavailable}
	ErrInvalidState       = &Error{Status: StatusInvalidState}
	ErrTimeout            = &Error{Status: StatusTimeout}
	ErrAgent              = &Error{Status: StatusAgent}
	ErrIO                 = &Error{Status: StatusIO}
	ErrConfig             = &Error{Status: StatusConfig}
	ErrInvalidUTF8        = &Error{Status: StatusInvalidUTF8}
	ErrPanic              = &Error{Status: StatusPanic}
)

// ErrClosed is returned by methods of a handle after its Close.
var ErrClosed = errors.New("kled: handle is closed")

// call runs one libkled function and turns a failure into an *Error. The
// message is per OS thread in libkled, and a goroutine may move between
// threads between two cgo calls: the thread is pinned for both.
func call(f func() C.kled_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.KLED_OK {
		return nil
	}
	return &Error{Status: Status(st), Message: C.GoString(C.kled_last_error_message())}
}
