"""kled from Python in one page: a terminal, commands, code, files, streaming.

Run: python examples/python/quickstart.py   (uses $KLED_HOME, else ~/.local/state/kled)
"""

from __future__ import annotations

import asyncio

import kled


def main() -> None:
    m = kled.Manager()

    # Created, started, and removed (with its files) when the block ends.
    with m.create_terminal("local", "quickstart") as t:
        print(t)  # <kled.Terminal name='quickstart' kind='local' state='running'>

        # A string runs in the terminal's shell; a list runs directly.
        r = t.execute("echo hello from $0; ls /nonexistent")
        print("exit", r.exit_code, "stdout", repr(r.stdout), "stderr", repr(r.stderr))
        print(t.execute(["uname", "-sr"]).check().stdout.strip())

        # Timeouts kill the whole process group and keep the output so far.
        r = t.execute("echo partial; sleep 10", timeout=0.5)
        print("timed out:", r.timed_out, "output:", r.stdout.strip())

        # Non-zero exits are results; check() turns them into exceptions.
        try:
            t.execute("exit 3").check()
        except kled.CommandError as e:
            print("CommandError:", e, "| exit code", e.result.exit_code)

        # stdin, env, cwd, and exact bytes.
        r = t.execute("tr a-z A-Z; echo $GREETING", stdin="shout ", env={"GREETING": "hi"}, cwd="/tmp")
        print(r.stdout.strip(), r.stdout_bytes[:5])

        # Code in any language the terminal has an interpreter for.
        print(t.run_code("python", "import sys; print(sys.version_info[:2])").check().stdout.strip())
        print(t.run_code("bash", 'echo "bash says $((6 * 7))"').stdout.strip())

        # Files.
        t.write_file("notes/todo.txt", "write docs\n")
        print(t.read_file("notes/todo.txt"), [e.name for e in t.list_dir("notes")])

        # Output as it happens.
        for event in t.exec_stream("for i in 1 2 3; do echo tick $i; sleep 0.1; done"):
            if event.kind == "exit":
                print("exit", event.exit_code)
            else:
                print(event.kind, event.text.strip())

        # asyncio: the same handle, awaitable twins of every method.
        async def many() -> list[str]:
            results = await asyncio.gather(*(t.execute_async(["echo", str(i)]) for i in range(5)))
            return [r.stdout.strip() for r in results]

        print("gathered", asyncio.run(many()))

        print([(i.name, i.state) for i in m.list_terminals()])

    print("available runtimes:", [p.kind for p in m.providers() if p.available])


if __name__ == "__main__":
    main()
