//! Process groups started by every conversation of this agent, so that
//! `shutdown` can stop them all.

use std::collections::BTreeSet;
use std::sync::Mutex;

static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

pub fn insert(pgid: i32) {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner()).insert(pgid);
}

pub fn remove(pgid: i32) {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner()).remove(&pgid);
}

pub fn all() -> Vec<i32> {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
}
