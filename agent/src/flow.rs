//! Credit-based flow control (protocol "Flow control"): how many bytes each
//! streaming request may still send before the client returns credit.
//! Producers stop reading their source (a child's pipe, a file, a socket)
//! while they have none, so a client that stopped reading slows the command
//! down to a stop instead of making anyone buffer its output.

use kled_protocol::{credit_cost, CHUNK, FRAME_COST};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};

struct State {
    avail: u64,
    closed: bool,
}

pub struct Credit {
    state: Mutex<State>,
    cond: Condvar,
    /// Made readable by `grant` and `close`, so a producer sleeping in
    /// poll(2) on its pipes wakes up too. Non-blocking at both ends.
    wake: [OwnedFd; 2],
}

impl Credit {
    /// `window` 0 means no flow control (the client always reads).
    pub fn new(window: u64) -> std::io::Result<Credit> {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 just made these and nothing else owns them.
        let wake = unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] };
        let avail = if window == 0 { u64::MAX } else { window };
        Ok(Credit { state: Mutex::new(State { avail, closed: false }), cond: Condvar::new(), wake })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poke(&self) {
        // A full pipe is already readable: the byte is not needed.
        // SAFETY: writing one byte from a valid buffer to our own pipe.
        let _ = unsafe { libc::write(self.wake[1].as_raw_fd(), b"x".as_ptr().cast(), 1) };
        self.cond.notify_all();
    }

    pub fn grant(&self, bytes: u64) {
        let mut s = self.lock();
        s.avail = s.avail.saturating_add(bytes);
        drop(s);
        self.poke();
    }

    /// The conversation ended: waiters give up.
    pub fn close(&self) {
        self.lock().closed = true;
        self.poke();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The largest payload the next frame may carry now (0: none).
    pub fn room(&self) -> usize {
        let s = self.lock();
        s.avail.saturating_sub(FRAME_COST).min(CHUNK as u64) as usize
    }

    /// Records a frame of `payload` bytes as sent (at most `room()`).
    pub fn spend(&self, payload: usize) {
        let mut s = self.lock();
        s.avail = s.avail.saturating_sub(credit_cost(payload));
    }

    /// Waits until a frame may be sent and returns its largest payload;
    /// None once the conversation ended.
    pub fn wait_room(&self) -> Option<usize> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return None;
            }
            if s.avail > FRAME_COST {
                return Some(s.avail.saturating_sub(FRAME_COST).min(CHUNK as u64) as usize);
            }
            s = self.cond.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Readable once credit arrived (or the conversation ended) since the last `drain`.
    pub fn wake_fd(&self) -> RawFd {
        self.wake[0].as_raw_fd()
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a valid buffer from our own non-blocking pipe.
        while unsafe { libc::read(self.wake[0].as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

/// The credit of each streaming request of one conversation, by id.
#[derive(Clone, Default)]
pub struct Flows(Arc<Mutex<HashMap<u32, Arc<Credit>>>>);

impl Flows {
    /// Registers request `id`; the guard unregisters it when the request ends.
    pub fn open(&self, id: u32, window: u64) -> std::io::Result<Flow> {
        let credit = Arc::new(Credit::new(window)?);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id, credit.clone());
        Ok(Flow { flows: self.clone(), id, credit })
    }

    /// Credit for `id`; ignored when it has ended (the race is normal).
    pub fn grant(&self, id: u32, bytes: u64) {
        let credit = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned();
        if let Some(c) = credit {
            c.grant(bytes);
        }
    }

    pub fn close_all(&self) {
        for c in self.0.lock().unwrap_or_else(|p| p.into_inner()).values() {
            c.close();
        }
    }
}

/// One request's credit, registered while it lives.
pub struct Flow {
    flows: Flows,
    id: u32,
    pub credit: Arc<Credit>,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.flows.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_is_spent_granted_and_wakes_waiters() {
        let c = Arc::new(Credit::new(FRAME_COST + 10).unwrap());
        assert_eq!(c.room(), 10);
        c.spend(10);
        assert_eq!(c.room(), 0);
        let waiter = {
            let c = c.clone();
            std::thread::spawn(move || c.wait_room())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(crate::sys::poll_readable(&[c.wake_fd()], 0).unwrap() == vec![false]);
        c.grant(1 << 20);
        assert_eq!(waiter.join().unwrap(), Some(CHUNK));
        assert!(crate::sys::poll_readable(&[c.wake_fd()], 0).unwrap() == vec![true]);
        c.drain();
        assert!(crate::sys::poll_readable(&[c.wake_fd()], 0).unwrap() == vec![false]);
        c.spend(1 << 20);
        c.close();
        assert_eq!(c.wait_room(), None);
        assert_eq!(Credit::new(0).unwrap().room(), CHUNK, "0 is no flow control");
    }
}
