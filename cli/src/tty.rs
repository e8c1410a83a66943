//! `kled terminal exec -t`: the local side of a pseudo-terminal session.
//! Our terminal's size goes to the remote one (and follows SIGWINCH), and
//! with `-i` our terminal is put in raw mode so keys (^C, arrows, tab) reach
//! the remote program as typed, restored however the command ends.

use kled::ExecControl;
use std::io::Read;

/// The size of the terminal on our stdout (else stdin), or 24x80.
pub fn local_size() -> (u16, u16) {
    for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO] {
        // SAFETY: TIOCGWINSZ fills the winsize we pass.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 && ws.ws_col > 0 {
            return (ws.ws_row, ws.ws_col);
        }
    }
    (24, 80)
}

/// Our stdin in raw mode while this lives (when stdin is a terminal).
pub struct RawMode(libc::termios);

impl RawMode {
    pub fn enter() -> Option<RawMode> {
        // SAFETY: isatty, tcgetattr and tcsetattr on fd 0 with a termios we own.
        unsafe {
            if libc::isatty(libc::STDIN_FILENO) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            (libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) == 0).then_some(RawMode(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes saved in enter().
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0);
        }
    }
}

/// Forwards our stdin to the command as it comes, then ends its input.
pub fn pump_stdin(control: ExecControl) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if control.write_stdin(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = control.close_stdin();
    });
}

/// Passes our terminal's new size on at every SIGWINCH.
pub fn follow_resizes(control: ExecControl) {
    let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else { return };
    tokio::spawn(async move {
        while winch.recv().await.is_some() {
            let (rows, cols) = local_size();
            if control.resize(rows, cols).is_err() {
                return;
            }
        }
    });
}
