// Creates a local terminal, runs a command in it, prints its output and
// exit code, and removes the terminal.
//
//	PKG_CONFIG_PATH=PREFIX/lib/pkgconfig go run .
//
// The terminal's state lives in $KLED_HOME (default ~/.local/state/kled).
package main

import (
	"fmt"
	"os"
	"time"

	"kled.dev/bindings/go/kled"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	m, err := kled.NewManager()
	if err != nil {
		return err
	}
	defer m.Close()

	t, err := m.CreateTerminal("local", fmt.Sprintf("hello-go-%d", os.Getpid()), nil)
	if err != nil {
		return err
	}
	defer t.Close()
	defer t.Remove()
	if err := t.Start(); err != nil {
		return err
	}

	r, err := t.Execute("echo hello from $0; exit 3", kled.WithTimeout(10*time.Second))
	if err != nil {
		return err
	}
	fmt.Print(r.StdoutString())
	fmt.Println("exit code:", r.ExitCode)
	return nil
}
