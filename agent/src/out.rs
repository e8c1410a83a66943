//! The write half of a conversation, shared by the threads that answer
//! requests. Each frame is written whole under the lock.

use kled_protocol::{ErrorCode, ErrorReply, Frame, FrameKind, Reply};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Out(Arc<Mutex<Box<dyn Write + Send>>>);

impl Out {
    pub fn new(w: impl Write + Send + 'static) -> Out {
        Out(Arc::new(Mutex::new(Box::new(w))))
    }

    /// Sends a frame; false once the other side is gone.
    pub fn send(&self, frame: Frame) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        frame.write_to(&mut *w).and_then(|_| w.flush()).is_ok()
    }

    pub fn reply(&self, id: u32, reply: &Reply) -> bool {
        self.send(Frame::json(FrameKind::Reply, id, reply))
    }

    pub fn error(&self, id: u32, code: ErrorCode, message: impl Into<String>) -> bool {
        self.send(Frame::json(FrameKind::Error, id, &ErrorReply { code, message: message.into() }))
    }
}
