//! Memory handed to C: byte buffers and strings, each with its one free function.

use std::ffi::CString;
use std::os::raw::c_char;

/// Bytes owned by the caller, filled by a kled function (e.g.
/// `kled_terminal_read_file`). Free with `kled_buf_free`. When `len` is 0,
/// `data` is NULL.
#[repr(C)]
pub struct kled_buf {
    /// The bytes (not NUL-terminated; may contain NUL), or NULL when len is 0.
    pub data: *mut u8,
    /// Number of bytes at `data`.
    pub len: usize,
}

impl kled_buf {
    pub(crate) const EMPTY: kled_buf = kled_buf { data: std::ptr::null_mut(), len: 0 };

    pub(crate) fn from_vec(v: Vec<u8>) -> kled_buf {
        if v.is_empty() {
            return kled_buf::EMPTY;
        }
        let boxed = v.into_boxed_slice();
        let len = boxed.len();
        kled_buf { data: Box::into_raw(boxed).cast::<u8>(), len }
    }
}

/// Frees the bytes of a buffer filled by libkled and resets it to
/// {NULL, 0}, so a second kled_buf_free of the same struct is harmless.
/// `buf` NULL, or `buf->data` NULL: no-op. Never pass a buffer whose data
/// libkled did not allocate, or whose `len` was changed.
#[no_mangle]
pub unsafe extern "C" fn kled_buf_free(buf: *mut kled_buf) {
    ffi!([] {
        // SAFETY: per the contract above: NULL or a buffer libkled filled.
        if let Some(buf) = unsafe { buf.as_mut() } {
            if !buf.data.is_null() {
                let slice = std::ptr::slice_from_raw_parts_mut(buf.data, buf.len);
                // SAFETY: made by `from_vec` as a Box<[u8]> of exactly this length.
                drop(unsafe { Box::from_raw(slice) });
            }
            *buf = kled_buf::EMPTY;
        }
        Ok(())
    })
}

/// Frees a string that a kled function returned as owned (`char **` out-params:
/// JSON documents, paths). NULL: no-op. Freeing twice is undefined behaviour.
#[no_mangle]
pub unsafe extern "C" fn kled_string_free(string: *mut c_char) {
    ffi!([] {
        if !string.is_null() {
            // SAFETY: made by CString::into_raw in `args::owned_string`.
            drop(unsafe { CString::from_raw(string) });
        }
        Ok(())
    })
}
