package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox/internal/cli"
)

// notUsage has a Usage method that says no.
type notUsage struct{}

func (notUsage) Error() string { return "looks like usage" }
func (notUsage) Usage() bool   { return false }

// ownUsage is a command's own usage error type.
type ownUsage struct{ msg string }

func (e ownUsage) Error() string { return e.msg }
func (ownUsage) Usage() bool     { return true }

func TestExitCode(t *testing.T) {
	plain := cli.Command{Name: "oxtool"}
	hinted := cli.Command{Name: "oxtool", HelpHint: true}
	prefixed := cli.Command{Name: "oxtool", Prefixed: true, HelpHint: true}
	tests := []struct {
		name   string
		cmd    cli.Command
		err    error
		code   int
		stderr string
	}{
		{"success prints nothing", plain, nil, 0, ""},
		{"help prints nothing more", hinted, flag.ErrHelp, 0, ""},
		{"wrapped help prints nothing more", hinted, fmt.Errorf("oxtool: %w", flag.ErrHelp), 0, ""},
		{"failure is named and exits 1", hinted, errors.New("no route to host"), 1, "oxtool: no route to host\n"},
		{"prefixed failure is printed as it is", prefixed, errors.New("oxtool: disk full"), 1, "oxtool: disk full\n"},
		{"usage error exits 2", plain, cli.Usagef("unknown command %q", "frob"), 2, "oxtool: unknown command \"frob\"\n"},
		{"usage error points at -h when asked", hinted, cli.Usagef("--timeout must be positive"), 2,
			"oxtool: --timeout must be positive\nrun 'oxtool -h' for help\n"},
		{"prefixed usage error is printed as it is", prefixed, ownUsage{"oxtool: bad flag"}, 2,
			"oxtool: bad flag\nrun 'oxtool -h' for help\n"},
		{"wrapped usage error exits 2", plain, fmt.Errorf("status: %w", cli.Usagef("extra argument")), 2,
			"oxtool: status: extra argument\n"},
		{"a command's own usage type exits 2", plain, ownUsage{"bad port"}, 2, "oxtool: bad port\n"},
		{"Usage false is a plain failure", hinted, notUsage{}, 1, "oxtool: looks like usage\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := tc.cmd.ExitCode(tc.err, &stderr); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestIsUsage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil is not", nil, false},
		{"plain error is not", errors.New("x"), false},
		{"UsageError is", cli.UsageError{Msg: "x"}, true},
		{"wrapped UsageError is", fmt.Errorf("a: %w", cli.Usagef("x")), true},
		{"Usage false is not", notUsage{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.IsUsage(tc.err); got != tc.want {
				t.Errorf("IsUsage(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// mainEnv makes the test binary, run again by startMain, act as a
// command built on cli.Main; its value picks the command's behaviour.
const mainEnv = "OX_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	switch os.Getenv(mainEnv) {
	case "":
		os.Exit(m.Run())
	case "args":
		cli.Command{Name: "oxtool", HelpHint: true}.Main(func(_ context.Context, args []string, stdin io.Reader, stdout, _ io.Writer) error {
			in, _ := io.ReadAll(stdin)
			fmt.Fprintf(stdout, "args %q stdin %q\n", args, in)
			return cli.Usagef("that was %d arguments", len(args))
		})
	case "signal", "kill":
		c := cli.Command{Name: "oxtool", KillOnSecondSignal: os.Getenv(mainEnv) == "kill"}
		c.Main(func(ctx context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "ready")
			<-ctx.Done()
			fmt.Fprintln(stdout, "stopping")
			if c.KillOnSecondSignal {
				time.Sleep(time.Minute) // a shutdown that hangs: only a second signal ends it
			}
			return nil
		})
	}
	os.Exit(99) // Main returned
}

// process is the test binary running as a command.
type process struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr bytes.Buffer
	done   chan error // cmd.Wait's result
}

// startMain runs the test binary as a command in the given mode.
func startMain(t *testing.T, mode string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(os.Args[0], args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), mainEnv+"="+mode)
	p.cmd.Stderr = &p.stderr
	p.cmd.Stdin = strings.NewReader("input")
	// An os.Pipe, not StdoutPipe: Wait must not depend on the test reading
	// the output to its end.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	p.cmd.Stdout = w
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewReader(r)
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// expectLine reads the command's next line of output.
func (p *process) expectLine(t *testing.T, want string) {
	t.Helper()
	line, err := p.out.ReadString('\n')
	if strings.TrimSuffix(line, "\n") != want {
		t.Fatalf("output %q (%v), want %q", line, err, want)
	}
}

// wait waits, at most a bounded time, for the command to exit, sending it sig
// every 50ms meanwhile if sig is not nil. It returns nil for a success.
func (p *process) wait(t *testing.T, sig os.Signal) *exec.ExitError {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case err := <-p.done:
			p.done <- err // for the cleanup
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			return ee
		case <-tick.C:
			if sig != nil {
				p.cmd.Process.Signal(sig)
			}
		case <-timeout:
			t.Fatal("the command did not exit")
		}
	}
}

func TestMainPassesArgsAndStreamsAndExits(t *testing.T) {
	p := startMain(t, "args", "-x", "y")
	p.expectLine(t, `args ["-x" "y"] stdin "input"`)
	ee := p.wait(t, nil)
	if ee == nil || ee.ExitCode() != 2 {
		t.Errorf("exit %v, want status 2", ee)
	}
	if want := "oxtool: that was 2 arguments\nrun 'oxtool -h' for help\n"; p.stderr.String() != want {
		t.Errorf("stderr %q, want %q", p.stderr.String(), want)
	}
}

func TestMainEndsTheContextOnSIGTERM(t *testing.T) {
	p := startMain(t, "signal")
	p.expectLine(t, "ready")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.expectLine(t, "stopping")
	if ee := p.wait(t, nil); ee != nil {
		t.Errorf("exit %v, want success; stderr %q", ee, p.stderr.String())
	}
}

func TestMainSecondSignalKillsWhenAsked(t *testing.T) {
	p := startMain(t, "kill")
	p.expectLine(t, "ready")
	p.cmd.Process.Signal(os.Interrupt)
	p.expectLine(t, "stopping")
	// run's shutdown hangs: the next signal, once Main stops catching them, ends it.
	ee := p.wait(t, os.Interrupt)
	if ee == nil {
		t.Fatal("the command exited with success, want killed by the signal")
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != os.Interrupt {
		t.Errorf("exit %v, want killed by SIGINT", ee)
	}
}
