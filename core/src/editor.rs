//! Editor operations on a Neovim terminal's buffers.

use crate::error::{Error, Result};
use crate::terminal::{check_path, Terminal};

/// Editor operations on a Neovim terminal's buffers: what an agent uses to
/// edit code through the editor. Files are named by path (relative paths
/// are from the terminal's working directory); each file's buffer is loaded
/// on first use and reloaded from disk when unmodified. Line ranges are
/// zero-based and end-exclusive, and negative indexes count from the end
/// (-1 is past the last line), as in Neovim's `nvim_buf_get_lines`.
#[derive(Clone, Debug)]
pub struct Editor {
    terminal: Terminal,
}

impl Terminal {
    /// The editor of a Neovim terminal; InvalidArgument for other kinds.
    pub fn editor(&self) -> Result<Editor> {
        if self.caps().editor {
            return Ok(Editor { terminal: self.clone() });
        }
        Err(Error::invalid(format!(
            "terminal {:?} is a {} terminal: editor operations need a neovim terminal",
            self.name(),
            self.kind()
        )))
    }
}

impl Editor {
    async fn nvim(&self) -> Result<crate::nvim::NvimClient> {
        let conn = self.terminal.connection().await?;
        conn.client
            .neovim()
            .cloned()
            .ok_or_else(|| Error::invalid(format!("terminal {:?} is not served by Neovim", self.terminal.name())))
    }

    fn check_lines(lines: &[String]) -> Result<()> {
        if let Some(l) = lines.iter().find(|l| l.contains('\n') || l.contains('\0')) {
            return Err(Error::invalid(format!("a buffer line may not contain a newline or NUL: {l:?}")));
        }
        Ok(())
    }

    /// Opens `path` in a buffer (a new file gets an empty one).
    pub async fn open(&self, path: &str) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        self.nvim().await?.open(path).await.map_err(|e| self.terminal.explain(e))
    }

    /// The listed buffers, including the command log `kled://log`.
    pub async fn buffers(&self) -> Result<Vec<crate::nvim::BufferInfo>> {
        self.nvim().await?.buffers().await.map_err(|e| self.terminal.explain(e))
    }

    /// Lines `start..end` of the file's buffer.
    pub async fn read_lines(&self, path: &str, start: i64, end: i64) -> Result<Vec<String>> {
        check_path(path)?;
        self.nvim().await?.get_lines(path, start, end).await.map_err(|e| self.terminal.explain(e))
    }

    /// Replaces lines `start..end` of the file's buffer with `lines` (an
    /// empty range inserts, empty `lines` deletes). The file on disk changes
    /// only on `write`.
    pub async fn set_lines(
        &self,
        path: &str,
        start: i64,
        end: i64,
        lines: &[String],
    ) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        Self::check_lines(lines)?;
        self.nvim().await?.set_lines(path, start, end, lines).await.map_err(|e| self.terminal.explain(e))
    }

    /// Writes the file's buffer to disk.
    pub async fn write(&self, path: &str) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        self.nvim().await?.write_buffer(path).await.map_err(|e| self.terminal.explain(e))
    }

    /// The visible command log: one `$ command` line per exec and one
    /// `[exit N]` line per exit.
    pub async fn log(&self) -> Result<Vec<String>> {
        self.nvim().await?.log_lines().await.map_err(|e| self.terminal.explain(e))
    }

    /// The Neovim server's socket on this host, for `nvim --remote-ui`.
    pub fn socket(&self) -> Result<Option<String>> {
        let r = self.terminal.record()?;
        Ok(r.runtime.get("socket").and_then(|s| s.as_str()).map(str::to_string))
    }
}
