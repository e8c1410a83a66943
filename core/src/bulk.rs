//! Creating many terminals at once: concurrently (bounded), named
//! `PREFIX-1..N`, all or nothing.

use crate::error::{Error, ErrorKind, Result};
use crate::hint::Hint;
use crate::manager::Manager;
use crate::name::validate_name;
use crate::terminal::Terminal;
use futures::stream::{self, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const DEFAULT_BULK_CONCURRENCY: usize = 8;
pub const MAX_BULK: usize = 1000;

pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

#[derive(Clone)]
pub struct BulkRequest {
    pub kind: String,
    pub count: usize,
    pub options: serde_json::Value,
    /// Names are `PREFIX-1` .. `PREFIX-COUNT`; default: the kind.
    pub prefix: Option<String>,
    /// Start each terminal too.
    pub start: bool,
    /// How many terminals are made at once: at least 1 (0 is refused, not
    /// taken to mean a default; leave the field at its default instead).
    pub concurrency: usize,
    /// Called with (done, total) as terminals are ready.
    pub progress: Option<Progress>,
}

impl BulkRequest {
    pub fn new(kind: impl Into<String>, count: usize) -> BulkRequest {
        BulkRequest {
            kind: kind.into(),
            count,
            options: serde_json::Value::Null,
            prefix: None,
            start: false,
            concurrency: DEFAULT_BULK_CONCURRENCY,
            progress: None,
        }
    }

    /// The rules every front end's bulk request obeys, checked in one place
    /// (front ends pass values through): 1..=MAX_BULK terminals, at least one
    /// at a time.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 || self.count > MAX_BULK {
            return Err(Error::invalid(format!("bulk count must be between 1 and {MAX_BULK}, not {}", self.count)));
        }
        if self.concurrency == 0 {
            return Err(Error::invalid(format!(
                "bulk concurrency must be at least 1, not 0 (leave it out for the default, {DEFAULT_BULK_CONCURRENCY})"
            )));
        }
        Ok(())
    }
}

impl Manager {
    /// Creates `count` terminals. If any fails, the ones this call made are
    /// removed again and the first error is returned.
    pub async fn create_bulk(&self, req: BulkRequest) -> Result<Vec<Terminal>> {
        req.validate()?;
        let kind: crate::Kind = req.kind.parse()?;
        let prefix = req.prefix.clone().unwrap_or_else(|| kind.to_string());
        let names: Vec<String> = (1..=req.count).map(|i| format!("{prefix}-{i}")).collect();
        for n in &names {
            validate_name(n).map_err(|e| e.context("bulk prefix"))?;
        }
        let taken: Vec<&str> = names.iter().filter(|n| self.exists(n)).map(String::as_str).collect();
        if !taken.is_empty() {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("terminals already exist: {}", taken.join(", ")))
                .with_hint(Hint::OtherBulkPrefix));
        }
        let done = AtomicUsize::new(0);
        let total = req.count;
        let results: Vec<(String, Result<Terminal>, bool)> = stream::iter(names)
            .map(|name| {
                let req = &req;
                let done = &done;
                async move {
                    let created = self.create_terminal(&req.kind, &name, req.options.clone()).await;
                    let made = created.is_ok();
                    let result = match created {
                        Ok(t) if req.start => t.start().await.map(|_| t),
                        other => other,
                    };
                    if result.is_ok() {
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(p) = &req.progress {
                            p(n, total);
                        }
                    }
                    (name, result, made)
                }
            })
            .buffer_unordered(req.concurrency)
            .collect()
            .await;

        let failure = results.iter().find_map(|(name, r, _)| r.as_ref().err().map(|e| (name.clone(), e.clone())));
        let Some((failed, error)) = failure else {
            let mut terminals: Vec<Terminal> = results.into_iter().filter_map(|(_, r, _)| r.ok()).collect();
            terminals.sort_by_key(|t| natural_key(t.name()));
            return Ok(terminals);
        };
        let mut rolled_back = 0;
        for (name, _, made) in &results {
            if *made && self.remove_terminal(name).await.is_ok() {
                rolled_back += 1;
            }
        }
        Err(error.context(format!(
            "bulk creation failed at {failed} (rolled back the {rolled_back} terminals it had created)"
        )))
    }
}

/// Sorts `x-2` before `x-10`.
fn natural_key(name: &str) -> (String, u64) {
    match name.rsplit_once('-') {
        Some((p, n)) => (p.to_string(), n.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_zero_and_counts_out_of_range_are_refused() {
        let mut req = BulkRequest::new("local", 3);
        assert!(req.validate().is_ok());
        req.concurrency = 0;
        let e = req.validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("concurrency must be at least 1"), "{e}");
        for count in [0, MAX_BULK + 1] {
            assert!(BulkRequest::new("local", count).validate().unwrap_err().message().contains("bulk count"));
        }
    }
}
