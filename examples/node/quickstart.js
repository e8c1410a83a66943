// kled from Node.js in one page: a terminal, commands, code, files, streams.
// Run: npm install && node quickstart.js   (KLED_HOME picks the state dir)
'use strict';
const kled = require('kled');

async function main() {
  const m = new kled.Manager(); // state in $KLED_HOME, else ~/.local/state/kled
  let t;
  try {
    t = await m.createTerminal('local', 'quickstart-js', { env: { GREETING: 'hello' } });
  } catch (e) {
    if (e.code !== 'KLED_ALREADY_EXISTS') throw e;
    t = await m.getTerminal('quickstart-js'); // left over from an earlier run
  }
  try {
    await t.start();

    // A string runs in the terminal's shell; a non-zero exit is a result, not an error.
    const r = await t.execute('echo "$GREETING from $(uname -s)"; echo to-stderr >&2; exit 3');
    console.log(`stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)} exitCode=${r.exitCode}`);

    // An array runs as argv, no shell. Options: timeout (ms), cwd, env, stdin.
    const ls = await t.execute(['ls', '-d', '/tmp'], { cwd: '/', timeout: 5000 });
    console.log(`argv: ${ls.stdout.trim()} in ${ls.duration.toFixed(1)} ms`);
    const up = await t.execute('tr a-z A-Z', { stdin: 'piped in\n' });
    console.log(`stdin: ${up.stdout.trim()}`);

    // Timeouts kill the whole process group and keep the output so far.
    const slow = await t.execute('echo started; sleep 10', { timeout: 300 });
    console.log(`timedOut=${slow.timedOut} stdout=${JSON.stringify(slow.stdout)}`);

    // Code in many languages (py js ts c cpp java php rs go d f90 r bash sh).
    const py = await t.runCode('py', 'import sys; print(sys.version_info[0] * 14)');
    console.log(`python says ${py.stdout.trim()}`);

    // Files, as Buffers (or strings with an encoding).
    await t.writeFile('notes/hello.txt', 'kled ✓\n');
    console.log(`file: ${(await t.readFile('notes/hello.txt', 'utf8')).trim()}`);

    // Output as it happens.
    for await (const ev of t.execStream('for i in 1 2 3; do echo tick $i; sleep 0.1; done')) {
      if (ev.type === 'exit') console.log(`stream exit ${ev.exitCode}`);
      else process.stdout.write(`stream ${ev.type}: ${ev.data}`);
    }

    // Errors are kled.KledError subclasses with a code.
    try {
      await m.getTerminal('no-such-terminal');
    } catch (e) {
      console.log(`${e.name} ${e.code}: ${e.message}`);
    }

    console.log('terminals:', (await m.listTerminals()).map((i) => `${i.name} (${i.state})`).join(', '));
  } finally {
    await t.remove();
    m.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
