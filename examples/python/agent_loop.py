"""An agent-style loop: a policy picks tool calls (shell commands, code), kled
runs them in a sandbox terminal, and each observation goes back into the
transcript the policy sees next.

Here the policy is a small deterministic planner standing in for a language
model, so the example runs offline; swap `Planner.next_action` for a call to
your model (giving it `transcript`) and the loop stays the same.

Run: python examples/python/agent_loop.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Literal, Optional, Union

import kled

MAX_OBSERVATION = 2000  # characters of output a model would be shown


@dataclass
class Shell:
    """Run a command line in the terminal."""

    command: str
    timeout: float = 30.0
    kind: Literal["shell"] = "shell"


@dataclass
class Code:
    """Run a snippet of code."""

    lang: str
    code: str
    kind: Literal["code"] = "code"


@dataclass
class Finish:
    """Stop with an answer."""

    answer: str
    kind: Literal["finish"] = "finish"


Action = Union[Shell, Code, Finish]


@dataclass
class Step:
    action: Action
    observation: str
    ok: bool


@dataclass
class Planner:
    """Task: find the largest file in a project, count its lines and checksum it."""

    transcript: list[Step] = field(default_factory=list)

    def next_action(self) -> Action:
        n = len(self.transcript)
        last = self.transcript[-1] if self.transcript else None
        if n == 0:
            # Make a project to work on.
            return Code(
                "python",
                "import os, random\n"
                "random.seed(7)\n"
                "os.makedirs('proj/src', exist_ok=True)\n"
                "for i in range(5):\n"
                "    with open(f'proj/src/mod{i}.py', 'w') as f:\n"
                "        f.write('x = 1\\n' * random.randint(10, 500))\n"
                "print('made', len(os.listdir('proj/src')), 'files')\n",
            )
        if n == 1:
            return Shell("find proj -type f -printf '%s %p\\n' | sort -n | tail -1")
        if n == 2:
            assert last is not None and last.ok
            self.largest = last.observation.split()[-1]
            # A command that fails: the agent sees the error and recovers.
            return Shell(f"wc -l {self.largest} | nonexistent-tool")
        if n == 3:
            assert last is not None and not last.ok
            return Shell(f"wc -l < {self.largest}")
        if n == 4:
            assert last is not None and last.ok
            self.lines = int(last.observation.strip())
            return Code("python", f"import hashlib; print(hashlib.sha256(open({self.largest!r}, 'rb').read()).hexdigest())")
        if n == 5:
            assert last is not None and last.ok
            # Something slow: the timeout keeps the agent moving.
            self.digest = last.observation.strip()
            return Shell("sleep 30", timeout=0.5)
        return Finish(f"{self.largest} has {self.lines} lines, sha256 {self.digest[:16]}...")

    largest: str = ""
    lines: int = 0
    digest: str = ""


def clip(text: str) -> str:
    """Keeps the head and tail of long output, and says what was cut."""
    if len(text) <= MAX_OBSERVATION:
        return text
    half = MAX_OBSERVATION // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters elided ...]\n{text[-half:]}"


def observe(r: kled.ExecResult) -> tuple[str, bool]:
    """What the model is shown of a result."""
    parts = []
    if r.stdout:
        parts.append(r.stdout)
    if r.stderr:
        parts.append(f"[stderr]\n{r.stderr}")
    if r.timed_out:
        parts.append(f"[timed out after {r.duration:.1f}s]")
    elif not r.ok:
        parts.append(f"[exit status {r.exit_code if r.exit_code is not None else 'signal ' + str(r.signal)}]")
    return clip("\n".join(parts)), r.ok


def run(t: kled.Terminal, planner: Planner, max_steps: int = 20) -> Optional[str]:
    for _ in range(max_steps):
        action = planner.next_action()
        if isinstance(action, Finish):
            return action.answer
        if isinstance(action, Shell):
            result = t.execute(action.command, timeout=action.timeout)
        else:
            result = t.run_code(action.lang, action.code, timeout=60)
        observation, ok = observe(result)
        planner.transcript.append(Step(action, observation, ok))
        print(f"--> {json.dumps(action.__dict__)[:100]}")
        print(f"<-- {'ok' if ok else 'FAILED'}: {observation.strip()[:200]}")
    return None


def main() -> int:
    m = kled.Manager()
    with m.create_terminal("local", "agent-sandbox") as t:
        planner = Planner()
        answer = run(t, planner)
    print("answer:", answer)
    steps = planner.transcript
    # The loop saw a failure and a timeout, recovered, and finished.
    return 0 if answer and any(not s.ok for s in steps) and len(steps) == 6 else 1


if __name__ == "__main__":
    sys.exit(main())
