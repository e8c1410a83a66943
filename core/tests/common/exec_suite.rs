//! The exec semantics every runtime must honour, written once and run
//! against each runtime by `exec_suite!(runtime_name, setup_fn)`.
//! `setup_fn(&Home, name) -> Option<Terminal>` returns a started terminal, or
//! None when the runtime is absent here (the setup says why).
//! `exec_suite!(setup_fn, signal_deaths = false)` is for a runtime that
//! cannot tell a death by signal N from `exit 128+N` (Neovim's jobs): it
//! must then report the exit code, and the suite checks that instead.

#[macro_export]
macro_rules! exec_suite {
    ($setup:path) => {
        exec_suite!($setup, signal_deaths = true);
    };
    // `signal_deaths = false`: the runtime cannot tell a death by signal N
    // from `exit 128+N` (Neovim jobs report both as 128+N), so the one
    // assertion that needs the difference is skipped for it; every other
    // runtime keeps asserting it.
    ($setup:path, signal_deaths = $signal_deaths:expr) => {
        use kled::{Command, ErrorKind, ExecEvent, ExecRequest};
        use std::time::{Duration, Instant};

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn stdout_and_stderr_are_kept_apart() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "apart").await else { return };
            let r = t.exec(ExecRequest::new("echo out; echo err >&2; echo out2")).await.unwrap();
            assert_eq!(r.stdout, b"out\nout2\n");
            assert_eq!(r.stderr, b"err\n");
            assert_eq!(r.exit_code, Some(0));
            assert!(!r.timed_out && !r.truncated);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn non_zero_exit_is_a_result() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "nonzero").await else { return };
            let r = t.exec(ExecRequest::new("echo partial; exit 42")).await.unwrap();
            assert_eq!(r.exit_code, Some(42));
            assert_eq!(r.stdout, b"partial\n");
            assert!(r.check().is_err());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn binary_and_unicode_output() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "binary").await else { return };
            let all: Vec<u8> = (0..=255u8).collect();
            t.write_file("bytes.bin", &all, None).await.unwrap();
            let r = t.exec(ExecRequest::new("cat bytes.bin")).await.unwrap();
            assert_eq!(r.stdout, all);
            let r = t.exec(ExecRequest::new(["printf", "%s", "héllo wörld ✓ 日本語 🚀"])).await.unwrap();
            assert_eq!(r.stdout_str(), "héllo wörld ✓ 日本語 🚀");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fifty_megabytes_of_stdout() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "big").await else { return };
            let n = 50_000_000u64;
            let r = t.exec(ExecRequest::new(format!("head -c {n} /dev/zero")).max_output(64 << 20)).await.unwrap();
            assert_eq!(r.stdout.len() as u64, n);
            assert!(!r.truncated);
            assert_eq!(r.exit_code, Some(0));
            // The default cap keeps 16 MiB and says so.
            let r = t.exec(ExecRequest::new(format!("head -c {n} /dev/zero; echo done >&2"))).await.unwrap();
            assert_eq!(r.stdout.len() as u64, kled::DEFAULT_MAX_OUTPUT);
            assert!(r.truncated);
            assert_eq!(r.stderr, b"done\n");
            assert_eq!(r.exit_code, Some(0));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn stdin_env_and_cwd() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "inputs").await else { return };
            let r = t.exec(ExecRequest::new("tr a-z A-Z").stdin("hello\nworld")).await.unwrap();
            assert_eq!(r.stdout, b"HELLO\nWORLD");
            // Large stdin, bigger than a pipe buffer.
            let big = vec![b'x'; 3_000_000];
            let r = t.exec(ExecRequest::new("wc -c").stdin(big)).await.unwrap();
            assert_eq!(r.stdout_str().trim(), "3000000");
            // Without stdin the command reads EOF at once.
            let r = t.exec(ExecRequest::new("cat; echo eof")).await.unwrap();
            assert_eq!(r.stdout, b"eof\n");
            let r =
                t.exec(ExecRequest::new("echo \"$GREETING $KLED_TERMINAL\"").env("GREETING", "héllo")).await.unwrap();
            assert_eq!(r.stdout_str(), format!("héllo {}\n", t.name()));
            t.exec(ExecRequest::new("mkdir -p sub/dir")).await.unwrap().check().unwrap();
            let r = t.exec(ExecRequest::new("pwd").cwd("sub/dir")).await.unwrap();
            assert!(r.stdout_str().trim_end().ends_with("/sub/dir"), "{}", r.stdout_str());
            let r = t.exec(ExecRequest::new("pwd").cwd("/")).await.unwrap();
            assert_eq!(r.stdout, b"/\n");
            let r = t.exec(ExecRequest::new("pwd").cwd("/does/not/exist")).await.unwrap();
            assert_eq!(r.exit_code, Some(127));
            assert!(r.stderr_str().contains("/does/not/exist"), "{}", r.stderr_str());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn timeout_kills_the_whole_process_tree() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "timeout").await else { return };
            let started = Instant::now();
            // The child outlives its parent's wait: both must die.
            let r = t
                .exec(
                    ExecRequest::new("sleep 300 & echo $! > child.pid; echo started; sleep 300")
                        .timeout(Duration::from_millis(700)),
                )
                .await
                .unwrap();
            assert!(r.timed_out);
            assert_eq!(r.exit_code, None);
            assert_eq!(r.signal, Some(9));
            assert_eq!(r.stdout, b"started\n", "partial output is kept");
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
            let pid: i32 = String::from_utf8(t.read_file("child.pid").await.unwrap()).unwrap().trim().parse().unwrap();
            assert!(common::dies(&t, pid, 3).await, "background child {pid} survived the timeout");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn background_children_do_not_hold_the_exec() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "background").await else { return };
            let started = Instant::now();
            let r = t.exec(ExecRequest::new("sleep 30 & echo bye")).await.unwrap();
            assert_eq!(r.exit_code, Some(0));
            assert_eq!(r.stdout, b"bye\n");
            assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn exit_by_signal_and_missing_commands() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "signals").await else { return };
            let r = t.exec(ExecRequest::new("kill -TERM $$")).await.unwrap();
            if $signal_deaths {
                assert_eq!((r.exit_code, r.signal), (None, Some(15)));
            } else {
                // Reported as the exit code the runtime saw, never as a guessed signal.
                assert_eq!((r.exit_code, r.signal), (Some(143), None));
            }
            assert_eq!(r.shell_status(), 143);
            let r = t.exec(ExecRequest::new("no-such-command-kled")).await.unwrap();
            assert_eq!(r.exit_code, Some(127));
            let r = t.exec(ExecRequest::new(["no-such-command-kled", "x"])).await.unwrap();
            assert_eq!(r.exit_code, Some(127));
            assert!(r.stderr_str().contains("no-such-command-kled"), "{}", r.stderr_str());
            let r = t.exec(ExecRequest::new(Command::Argv(vec!["/etc/hostname".into()]))).await.unwrap();
            assert_eq!(r.exit_code, Some(126));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bad_requests_are_errors() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "badreq").await else { return };
            for req in [ExecRequest::new(""), ExecRequest::new("a\0b"), ExecRequest::new("x").env("A=B", "c")] {
                assert_eq!(t.exec(req).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
            }
            // The terminal still works afterwards.
            assert_eq!(t.exec(ExecRequest::new("echo ok")).await.unwrap().stdout, b"ok\n");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn streaming_delivers_output_as_it_happens() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "stream").await else { return };
            let mut s = t.exec_stream(ExecRequest::new("echo one; sleep 0.3; echo two >&2; exit 5")).await.unwrap();
            let started = Instant::now();
            let first = s.next().await.unwrap().unwrap();
            assert_eq!(first, ExecEvent::Stdout(b"one\n".to_vec()));
            assert!(started.elapsed() < Duration::from_millis(250), "first chunk came late");
            let mut rest = Vec::new();
            while let Some(ev) = s.next().await {
                rest.push(ev.unwrap());
            }
            assert_eq!(rest[0], ExecEvent::Stderr(b"two\n".to_vec()));
            match &rest[1] {
                ExecEvent::Exit(st) => assert_eq!(st.exit_code, Some(5)),
                other => panic!("expected exit, got {other:?}"),
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_killer_signals_a_stream_that_another_task_reads() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "killer").await else { return };
            let mut s = t.exec_stream(ExecRequest::new("echo up; exec sleep 300")).await.unwrap();
            assert_eq!(s.next().await.unwrap().unwrap(), ExecEvent::Stdout(b"up\n".to_vec()));
            let killer = s.control();
            // The reader holds the stream (&mut) for as long as it waits.
            let reader = tokio::spawn(async move { s.exit_status().await });
            tokio::time::sleep(Duration::from_millis(200)).await;
            killer.clone().signal(libc::SIGTERM).unwrap();
            let st =
                tokio::time::timeout(Duration::from_secs(10), reader).await.expect("still running").unwrap().unwrap();
            if $signal_deaths {
                assert_eq!((st.exit_code, st.signal), (None, Some(libc::SIGTERM)));
            } else {
                assert_eq!(st.exit_code, Some(128 + libc::SIGTERM));
            }
            // After the end, a signal is ignored: spawn ids are not reused.
            killer.signal(libc::SIGKILL).unwrap();
            assert_eq!(t.exec(ExecRequest::new("echo still fine")).await.unwrap().stdout, b"still fine\n");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pseudo_terminals_and_open_stdin() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "tty").await else { return };
            let probe = ExecRequest::new("test -t 0 && test -t 1 && stty size; echo err >&2").tty(30, 100);
            if matches!(t.kind(), kled::Kind::Neovim | kled::Kind::NeovimKata) {
                // Neovim jobs get neither: said plainly.
                assert_eq!(t.exec(probe).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
                return;
            }
            let r = t.exec(probe).await.unwrap();
            assert_eq!((r.stdout_str().as_str(), r.stderr.len(), r.exit_code), ("30 100\r\nerr\r\n", 0, Some(0)));

            async fn collect(s: &mut kled::ExecStream) -> (String, Option<i32>) {
                let mut out = Vec::new();
                while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("stuck") {
                    match ev.unwrap() {
                        ExecEvent::Stdout(b) | ExecEvent::Stderr(b) => out.extend(b),
                        ExecEvent::Exit(st) => return (String::from_utf8_lossy(&out).into_owned(), st.exit_code),
                    }
                }
                panic!("no exit")
            }

            // A resize sent the moment the stream starts (before the agent
            // has even started the process) still lands.
            let mut s = t.exec_stream(ExecRequest::new("sleep 0.3; stty size").tty(24, 80)).await.unwrap();
            s.control().resize(50, 132).unwrap();
            assert_eq!(collect(&mut s).await, ("50 132\r\n".to_string(), Some(0)));

            // A terminal with open stdin: typed input, and a resize.
            let script =
                "read a; echo got:$a; trap 'echo winch' WINCH; echo ready; sleep 1; stty size; read b; echo end:$b";
            let mut req = ExecRequest::new(script).tty(24, 80);
            req.stdin_open = true;
            let mut s = t.exec_stream(req).await.unwrap();
            let c = s.control();
            c.write_stdin(b"hello\n").unwrap();
            let mut seen = String::new();
            while !seen.contains("ready") {
                match tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("no ready").unwrap().unwrap()
                {
                    ExecEvent::Stdout(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                    other => panic!("{other:?} before ready: {seen}"),
                }
            }
            assert!(seen.contains("got:hello\r\n"), "{seen:?}");
            c.resize(40, 120).unwrap();
            c.write_stdin(b"bye\n").unwrap();
            let (rest, code) = collect(&mut s).await;
            assert!(rest.contains("40 120\r\n"), "no resize seen: {rest:?}");
            // gVisor 20221219 changes the size but sends no SIGWINCH.
            if t.kind() != kled::Kind::Gvisor {
                assert!(rest.contains("winch\r\n"), "no SIGWINCH: {rest:?}");
            }
            assert!(rest.contains("end:bye\r\n"), "{rest:?}");
            assert_eq!(code, Some(0));

            // close_stdin on a terminal is ^D: EOF for a reader at the start
            // of a line. (gVisor 20221219's line discipline ignores it.)
            if t.kind() != kled::Kind::Gvisor {
                let mut req = ExecRequest::new("cat; echo end").tty(24, 80);
                req.stdin_open = true;
                let mut s = t.exec_stream(req).await.unwrap();
                s.control().write_stdin(b"x\n").unwrap();
                s.control().close_stdin().unwrap();
                let (out, code) = collect(&mut s).await;
                assert_eq!(
                    (out.matches("x\r\n").count(), out.ends_with("end\r\n"), code),
                    (2, true, Some(0)),
                    "{out:?}"
                );
            }

            // Open stdin on pipes: written in pieces, then EOF.
            let mut req = ExecRequest::new("cat; echo done");
            req.stdin_open = true;
            let mut s = t.exec_stream(req).await.unwrap();
            let c = s.control();
            c.write_stdin(b"one ").unwrap();
            c.write_stdin(b"two\n").unwrap();
            c.close_stdin().unwrap();
            assert_eq!(collect(&mut s).await, ("one two\ndone\n".to_string(), Some(0)));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dropping_a_stream_kills_the_command() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "dropkill").await else { return };
            let mut s = t.exec_stream(ExecRequest::new("echo $$; exec sleep 300")).await.unwrap();
            let pid: i32 = match s.next().await.unwrap().unwrap() {
                ExecEvent::Stdout(b) => String::from_utf8(b).unwrap().trim().parse().unwrap(),
                other => panic!("{other:?}"),
            };
            drop(s);
            assert!(common::dies(&t, pid, 3).await, "abandoned command {pid} still runs");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn many_concurrent_execs_share_one_terminal() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "concurrent").await else { return };
            let runs = (0..50).map(|i| {
                let t = t.clone();
                async move {
                    (i, t.exec(ExecRequest::new(format!("echo {i}; echo e{i} >&2; exit {}", i % 7))).await.unwrap())
                }
            });
            for (i, r) in futures::future::join_all(runs).await {
                assert_eq!(r.stdout_str(), format!("{i}\n"));
                assert_eq!(r.stderr_str(), format!("e{i}\n"));
                assert_eq!(r.exit_code, Some(i % 7));
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn files_round_trip() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "files").await else { return };
            let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
            t.write_file("deep/dir/data.bin", &data, None).await.unwrap();
            assert_eq!(t.read_file("deep/dir/data.bin").await.unwrap(), data);
            t.write_file("/tmp/kled-suite-script.sh", b"#!/bin/sh\necho script-ran\n", Some(0o755)).await.unwrap();
            let r = t.exec(ExecRequest::new(["/tmp/kled-suite-script.sh"])).await.unwrap();
            assert_eq!(r.stdout, b"script-ran\n");
            let entries = t.list_dir("deep/dir").await.unwrap();
            assert_eq!(entries.len(), 1);
            assert_eq!(
                (entries[0].name.as_str(), entries[0].kind.as_str(), entries[0].size),
                ("data.bin", "file", data.len() as u64)
            );
            assert_eq!(t.read_file("missing.txt").await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(t.read_file("deep").await.unwrap_err().kind(), ErrorKind::InvalidArgument);
            assert_eq!(t.write_file("", b"x", None).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
            let _ = t.exec(ExecRequest::new("rm -f /tmp/kled-suite-script.sh")).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn run_code_in_several_languages() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "code").await else { return };
            let r = t.run_code("py", "import sys\nprint('py', sys.version_info[0])\nsys.exit(3)").await.unwrap();
            assert_eq!((r.stdout_str().as_str(), r.exit_code), ("py 3\n", Some(3)));
            let r = t.run_code("python", "print('héllo')").await.unwrap();
            assert_eq!(r.stdout_str(), "héllo\n");
            let r = t.run_code("bash", "echo ${BASH_VERSION%%.*} >/dev/null; echo bash-ok").await.unwrap();
            assert_eq!(r.stdout, b"bash-ok\n");
            let r = t.run_code("sh", "echo sh-ok; echo oops >&2").await.unwrap();
            assert_eq!((r.stdout.as_slice(), r.stderr.as_slice()), (&b"sh-ok\n"[..], &b"oops\n"[..]));
            if common::has(&t, "node").await {
                let r = t.run_code("js", "console.log([1,2,3].map(x => x * 2).join(','))").await.unwrap();
                assert_eq!(r.stdout, b"2,4,6\n");
            }
            let e = t.run_code("cobol", "DISPLAY 'HI'").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            if !(common::has(&t, "dmd").await || common::has(&t, "ldc2").await || common::has(&t, "gdc").await) {
                let e = t.run_code("d", "void main() {}").await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable);
                assert!(e.message().contains("dmd or ldc2 or gdc"), "{e}");
            }
            // Scratch files are cleaned up.
            let r = t
                .exec(ExecRequest::new(format!("ls -d /tmp/kled-code-{}-* 2>/dev/null | wc -l", std::process::id())))
                .await
                .unwrap();
            assert_eq!(r.stdout_str().trim(), "0");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn run_code_dropped_midway_leaves_no_scratch() {
            let home = common::Home::new();
            let Some(t) = $setup(&home, "cancel").await else { return };
            let marker = format!("/tmp/kled-cancel-{}", std::process::id());
            let code = format!("echo \"$0\" > {marker}; sleep 30");
            let run = tokio::spawn({
                let t = t.clone();
                async move { t.run_code("sh", &code).await }
            });
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let script = loop {
                if let Ok(b) = t.read_file(&marker).await {
                    let s = String::from_utf8(b).unwrap();
                    if !s.trim().is_empty() {
                        break s.trim().to_string();
                    }
                }
                assert!(std::time::Instant::now() < deadline, "the code never started");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            run.abort();
            let dir = script.rsplit_once('/').unwrap().0.to_string();
            assert!(dir.starts_with("/tmp/kled-code-"), "{dir}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while t.list_dir(&dir).await.is_ok() {
                assert!(std::time::Instant::now() < deadline, "{dir} is still there after the run was dropped");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let _ = t.exec(ExecRequest::new(format!("rm -f {marker}"))).await;
        }
    };
}
