//! The one connection multiplexer: routes incoming messages of one
//! connection (an agent's frames, a Neovim server's job notifications) to
//! the request they belong to, through a **bounded** queue per route, and
//! remembers why the connection ended so that every waiting request, and
//! every later one, fails with that reason instead of hanging.
//!
//! A full route makes the connection's reader wait (`deliver` awaits), which
//! holds up the other routes of that connection too. The agent protocol's
//! credit keeps that from happening there (the agent never sends more than a
//! route holds); Neovim's notifications have no such thing (see nvim/).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use tokio::sync::mpsc;

struct State<K, T> {
    routes: HashMap<K, mpsc::Sender<T>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

pub(crate) struct Router<K, T> {
    state: Mutex<State<K, T>>,
}

impl<K: Hash + Eq + Copy, T> Router<K, T> {
    pub fn new() -> Router<K, T> {
        Router { state: Mutex::new(State { routes: HashMap::new(), closed: None }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A route for `key` holding up to `capacity` messages; the reason the
    /// connection closed if it has. Checked under the same lock as `close`,
    /// so a route cannot be added to a closed connection and wait forever.
    pub fn open(&self, key: K, capacity: usize) -> Result<mpsc::Receiver<T>, String> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let mut s = self.lock();
        if let Some(why) = &s.closed {
            return Err(why.clone());
        }
        s.routes.insert(key, tx);
        Ok(rx)
    }

    /// Hands `msg` to its route, waiting while the route is full; `last`
    /// removes the route. A message for no route (an abandoned or
    /// fire-and-forget request) is dropped.
    pub async fn deliver(&self, key: K, msg: T, last: bool) {
        let tx = {
            let mut s = self.lock();
            if last {
                s.routes.remove(&key)
            } else {
                s.routes.get(&key).cloned()
            }
        };
        if let Some(tx) = tx {
            // The receiver may be gone (an abandoned request): drop the message.
            let _ = tx.send(msg).await;
        }
    }

    pub fn remove(&self, key: K) {
        self.lock().routes.remove(&key);
    }

    /// Ends the connection: the first reason sticks, and dropping the
    /// senders wakes every waiting route (its `recv` gives None).
    pub fn close(&self, why: String) {
        let mut s = self.lock();
        s.closed.get_or_insert(why);
        s.routes.clear();
    }

    pub fn closed(&self) -> Option<String> {
        self.lock().closed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn routes_are_bounded_and_close_wakes_everyone() {
        let r = Arc::new(Router::<u32, u32>::new());
        let mut a = r.open(1, 2).unwrap();
        r.deliver(1, 10, false).await;
        r.deliver(1, 11, false).await;
        // Full: the third waits until the reader takes one.
        let r2 = r.clone();
        let third = tokio::spawn(async move { r2.deliver(1, 12, true).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!third.is_finished());
        assert_eq!(a.recv().await, Some(10));
        third.await.unwrap();
        assert_eq!((a.recv().await, a.recv().await, a.recv().await), (Some(11), Some(12), None));
        r.deliver(9, 1, false).await; // nobody's: dropped
        let mut b = r.open(2, 4).unwrap();
        r.close("gone".into());
        r.close("later".into());
        assert_eq!(b.recv().await, None);
        assert_eq!(r.open(3, 1).unwrap_err(), "gone");
        assert_eq!(r.closed().as_deref(), Some("gone"));
    }
}
