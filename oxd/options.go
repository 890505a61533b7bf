package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/blueox/ox"
)

// options are oxd's settings, from flags and the environment.
type options struct {
	control      string // host:port of the control (REP) socket
	collect      string // host:port of the collection (PULL) socket
	forward      string // host:port of the next collector, or ""
	logPath      string // where files go, or "" for none
	rotateHours  int    // 0: daily files; 1..12: every N hours
	verbose      int    // 0 warnings, 1 info, 2 debug
	streamPort   int    // 0: random in [35000, 36000)
	forwardMB    int    // bound of the forward queue, MiB
	maxEventSize int    // largest accepted message, bytes
	cpuProfile   string // write a CPU profile here (diagnostics)
	maxConns     int    // collection connections at once
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// verbosity counts -v flags: -v, -vv, -v -v.
type verbosity int

func (v *verbosity) String() string   { return strconv.Itoa(int(*v)) }
func (v *verbosity) IsBoolFlag() bool { return true }
func (v *verbosity) Set(s string) error {
	switch s {
	case "true":
		*v++
	case "false":
		*v = 0
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		*v = verbosity(n)
	}
	return nil
}

const usageText = `Usage: oxd [options]

oxd collects BlueOx events: applications PUSH them to the collection port; oxd
appends each to <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD>.log (UTC), publishes it on
a live stream and forwards it to another collector. Admin tools (oxctl, oxview)
talk to the control port.

Options:
  -t, --control HOST[:PORT]   control (REP) address to bind
                              (default $BLUEOX_CLIENT_HOST, else 127.0.0.1:3513)
  -c, --collect HOST[:PORT]   collection (PULL) address to bind
                              (default $BLUEOX_HOST, else 127.0.0.1:3514)
  -r, --forward HOST[:PORT]   PUSH every event to this collector (port 3514 if none)
  -l, --log-path DIR          write log files under DIR (default: no files)
      --rotate-hours N        start a new file every N hours (1..12) instead of daily
      --stream-port PORT      stream (PUB) port on the control host
                              (default: random free port in 35000..35999)
      --forward-queue-mb N    memory for events waiting to be forwarded (default 32);
                              past it events are dropped and counted
      --max-event-bytes N     drop larger messages (default 16777216)
      --max-connections N     collection connections at once (default 1024)
      --cpuprofile FILE       write a Go CPU profile to FILE until exit (diagnostics)
  -v                          more logging: -v info, -vv debug (repeatable)
  -h, --help                  this help

Logs go to stdout. SIGTERM, SIGINT or a SHUTDOWN control command flush and close
every file, then oxd exits 0.
`

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var v verbosity
	fs := flag.NewFlagSet("oxd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; the help text is printed for -h only
	fs.Usage = func() {}
	for _, name := range []string{"t", "control"} {
		fs.StringVar(&o.control, name, "", "control address")
	}
	for _, name := range []string{"c", "collect"} {
		fs.StringVar(&o.collect, name, "", "collection address")
	}
	for _, name := range []string{"r", "forward"} {
		fs.StringVar(&o.forward, name, "", "forward address")
	}
	for _, name := range []string{"l", "log-path"} {
		fs.StringVar(&o.logPath, name, "", "log path")
	}
	fs.IntVar(&o.rotateHours, "rotate-hours", 0, "rotate every N hours")
	fs.IntVar(&o.streamPort, "stream-port", 0, "stream port")
	fs.IntVar(&o.forwardMB, "forward-queue-mb", 32, "forward queue MiB")
	fs.IntVar(&o.maxEventSize, "max-event-bytes", 16<<20, "largest message")
	fs.IntVar(&o.maxConns, "max-connections", 1024, "collection connections")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "CPU profile file")
	fs.Var(&v, "v", "verbose")
	if err := fs.Parse(expandShort(args)); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stderr, usageText)
			return o, err
		}
		return o, usageError{err.Error() + " (see oxd -h)"}
	}
	o.verbose = int(v)
	if fs.NArg() > 0 {
		return o, usageError{fmt.Sprintf("unexpected argument %q (see oxd -h)", fs.Arg(0))}
	}
	if o.rotateHours < 0 || o.rotateHours > 12 {
		return o, usageError{fmt.Sprintf("--rotate-hours %d: must be from 1 to 12", o.rotateHours)}
	}
	if o.streamPort < 0 || o.streamPort > 65535 {
		return o, usageError{fmt.Sprintf("--stream-port %d: not a port", o.streamPort)}
	}
	if o.maxConns < 1 {
		return o, usageError{"--max-connections must be at least 1"}
	}
	if o.forwardMB < 1 {
		return o, usageError{"--forward-queue-mb must be at least 1"}
	}
	if o.maxEventSize < ox.MetaSize+1 {
		return o, usageError{fmt.Sprintf("--max-event-bytes must be over %d", ox.MetaSize)}
	}
	var err error
	if o.control, err = ox.ControlAddr(o.control); err != nil {
		return o, usageError{"--control: " + err.Error()}
	}
	if o.collect, err = ox.CollectAddr(o.collect); err != nil {
		return o, usageError{"--collect: " + err.Error()}
	}
	o.control, o.collect = bindAll(o.control), bindAll(o.collect)
	if o.forward != "" {
		if o.forward, err = ox.HostPort(o.forward, ox.DefaultCollectPort); err != nil {
			return o, usageError{"--forward: " + err.Error()}
		}
	}
	return o, nil
}

// bindAll turns the host "*", which BlueOx users write for "every interface" as in
// ZeroMQ (oxd --collect="*"), into the empty host net.Listen takes for the same.
func bindAll(addr string) string {
	if strings.HasPrefix(addr, "*:") {
		return addr[1:]
	}
	return addr
}

// expandShort turns "-vv" and "-vvv" into repeated "-v", the spelling users expect.
func expandShort(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && strings.Trim(a[1:], "v") == "" {
			for range len(a) - 1 {
				out = append(out, "-v")
			}
			continue
		}
		out = append(out, a)
	}
	return out
}
