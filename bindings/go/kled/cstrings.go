package kled

/*
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// cstrs are C copies of Go strings, freed together.
type cstrs []*C.char

// cStrings copies (value, what) pairs to C. A NUL byte would silently cut a
// C string short and invalid UTF-8 is refused by libkled: both fail here, by name.
func cStrings(pairs ...string) (cstrs, error) {
	out := make(cstrs, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		if err := checkText(pairs[i], pairs[i+1]); err != nil {
			out.free()
			return nil, err
		}
		out = append(out, C.CString(pairs[i]))
	}
	return out, nil
}

func (c cstrs) at(i int) *C.char { return c[i] }

func (c cstrs) free() {
	for _, p := range c {
		C.free(unsafe.Pointer(p))
	}
}

func checkText(s, what string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return &Error{Status: StatusInvalidArgument, Message: what + " contains a NUL byte"}
	}
	if !utf8.ValidString(s) {
		return &Error{Status: StatusInvalidUTF8, Message: what + " is not valid UTF-8"}
	}
	return nil
}

// optionalCString is NULL for "", else a C copy (free it with C.free, which accepts NULL).
func optionalCString(s, what string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: what + " contains a NUL byte"}
	}
	return C.CString(s), nil
}

// cJSON is a JSON document in C memory, or NULL.
type cJSON struct{ p *C.char }

func (j cJSON) ptr() *C.char { return j.p }
func (j cJSON) free()        { C.free(unsafe.Pointer(j.p)) }

// optionsJSON encodes terminal options; nil means none (NULL).
func optionsJSON(opts map[string]any) (cJSON, error) {
	if opts == nil {
		return cJSON{}, nil
	}
	return toCJSON(opts, "options")
}

// toCJSON encodes v. encoding/json would replace invalid UTF-8 with U+FFFD
// without a word, so strings are checked first by the callers that build specs.
func toCJSON(v any, what string) (cJSON, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return cJSON{}, &Error{Status: StatusInvalidArgument, Message: what + ": " + err.Error()}
	}
	return cJSON{C.CString(string(b))}, nil
}
