package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
)

// options are oxd's settings, from flags and the environment.
type options struct {
	control      string        // host:port of the control (REP) socket
	collect      string        // host:port of the collection (PULL) socket
	forward      string        // host:port of the next collector, or "" (plain PUSH mode)
	targets      []string      // spooled mode: link addresses of the next collectors, in order
	forwardPush  bool          // --forward-push: plain PUSH even if it were ambiguous
	spoolPath    string        // spooled, acknowledged forwarding when set
	spoolMaxMB   int           // bound of the spool on disk, MiB
	compress     bool          // deflate batches on the link
	failover     time.Duration // unreachable time before moving to the next target
	link         string        // host:port to accept acknowledged forwarding on, or ""
	logPath      string        // where files go, or "" for none
	rotateHours  int           // 0: daily files; 1..12: every N hours
	verbose      int           // 0 warnings, 1 info, 2 debug
	streamPort   int           // 0: random in [35000, 36000)
	forwardMB    int           // bound of the forward queue, MiB
	maxEventSize int           // largest accepted message, bytes
	cpuProfile   string        // write a CPU profile here (diagnostics)
	maxConns     int           // collection connections at once
	httpAddr     string        // --http: metrics, health, status and live page; "" off
	httpSet      bool          // --http was given (a failure to bind it is fatal)
	metricsTypes int           // --metrics-types: types /metrics shows by name
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return "oxd: " + e.msg }

// Usage marks e as a usage error for cli.IsUsage.
func (usageError) Usage() bool { return true }

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

const usageText = `usage: oxd [options]

oxd collects BlueOx events: applications PUSH them to the collection port; oxd
appends each to <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD>.log (UTC), publishes it on
a live stream and forwards it to another collector. Admin tools (oxctl, oxview)
talk to the control port.

Options:
  -t, --control HOST[:PORT]   control (REP) address to bind
                              (default $BLUEOX_CLIENT_HOST, else 127.0.0.1:3513)
  -c, --collect HOST[:PORT]   collection (PULL) address to bind
                              (default $BLUEOX_HOST, else 127.0.0.1:3514)
  -r, --forward HOST[:PORT]   PUSH every event to this collector (port 3514 if none):
                              the original's plain mode, what is in flight or queued
                              in memory is lost if either side stops
      --forward-push          say so explicitly (the default without --spool-path)
  -l, --log-path DIR          write log files under DIR (default: no files)
      --rotate-hours N        start a new file every N hours (1..12) instead of daily
      --stream-port PORT      stream (PUB) port on the control host
                              (default: random free port in 35000..35999)
      --forward-queue-mb N    memory for events waiting to be forwarded with plain
                              PUSH (default 32); past it events are dropped and counted
      --max-event-bytes N     drop larger messages (default 16777216)
      --max-connections N     collection connections at once (default 1024)
      --cpuprofile FILE       write a Go CPU profile to FILE until exit (diagnostics)
      --http HOST:PORT        serve /metrics (Prometheus), /healthz, /readyz, /status
                              (STATUS as JSON) and a live page at / on this address
                              (default 127.0.0.1:3516; "" turns it off; when the
                              default is taken oxd warns and runs without it)
      --metrics-types N       event types /metrics and the live page show by name
                              (default 20); the rest are summed as type="other"
  -v                          more logging: -v info, -vv debug (repeatable)
  -h, --help                  this help

Spooled, acknowledged forwarding (docs/forwarding.md):
      --spool-path DIR        keep every event in an on-disk spool under DIR and send
                              it over the acknowledged link; with this, --forward is
                              HOST[:PORT][,HOST[:PORT]...] of the next collectors'
                              --link addresses (port 3515 if none), in order of
                              preference: the first reachable one is used
      --spool-max-mb N        bound of the spool on disk (default 1024); past it the
                              oldest events are dropped, counted and logged
      --forward-compress      deflate batches on the link
      --failover-after D      move to the next target after the current one has been
                              unreachable this long (default 30s), back when it returns
      --link HOST[:PORT]      accept acknowledged forwarding from other oxd on this
                              address (port 3515 if none); needs --log-path or
                              --spool-path, where it keeps what it has written

Flags with a '-' also answer to '_' (--log_path); durations take Go
durations or seconds (--failover-after 30).

Logs go to stdout. SIGTERM, SIGINT or a SHUTDOWN control command flush and close
every file, then oxd exits 0.
`

func parseOptions(args []string, stdout io.Writer) (options, error) {
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
	fs.BoolVar(&o.forwardPush, "forward-push", false, "plain PUSH forwarding")
	fs.StringVar(&o.spoolPath, "spool-path", "", "spool directory")
	fs.IntVar(&o.spoolMaxMB, "spool-max-mb", 1024, "spool bound MiB")
	fs.BoolVar(&o.compress, "forward-compress", false, "compress the link")
	cli.DurationVar(fs, &o.failover, "failover-after", 30*time.Second, "failover time")
	fs.StringVar(&o.link, "link", "", "acknowledged forwarding address")
	fs.IntVar(&o.rotateHours, "rotate-hours", 0, "rotate every N hours")
	fs.IntVar(&o.streamPort, "stream-port", 0, "stream port")
	fs.IntVar(&o.forwardMB, "forward-queue-mb", 32, "forward queue MiB")
	fs.IntVar(&o.maxEventSize, "max-event-bytes", 16<<20, "largest message")
	fs.IntVar(&o.maxConns, "max-connections", 1024, "collection connections")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "CPU profile file")
	fs.StringVar(&o.httpAddr, "http", DefaultHTTP, "HTTP address")
	fs.IntVar(&o.metricsTypes, "metrics-types", 20, "types shown by name")
	fs.Var(&v, "v", "verbose")
	cli.Conventions(fs)
	if err := fs.Parse(expandShort(args)); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, usageText)
			return o, err
		}
		return o, usageError{err.Error() + " (see oxd -h)"}
	}
	o.verbose = int(v)
	fs.Visit(func(f *flag.Flag) { o.httpSet = o.httpSet || f.Name == "http" })
	if o.metricsTypes < 1 || o.metricsTypes > 1000 {
		return o, usageError{fmt.Sprintf("--metrics-types %d: must be from 1 to 1000", o.metricsTypes)}
	}
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
	if err := o.checkForwarding(); err != nil {
		return o, err
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

// DefaultLinkPort is the port of the acknowledged forwarding link (--link) when an
// address gives none.
const DefaultLinkPort = 3515

// checkForwarding validates the forwarding flags and splits --forward into targets.
func (o *options) checkForwarding() error {
	var err error
	if o.spoolPath == "" {
		if o.forward != "" {
			if strings.Contains(o.forward, ",") {
				return usageError{"--forward: several targets need spooled forwarding (--spool-path)"}
			}
			if o.forward, err = ox.HostPort(o.forward, ox.DefaultCollectPort); err != nil {
				return usageError{"--forward: " + err.Error()}
			}
		}
	} else {
		if o.forwardPush {
			return usageError{"--forward-push and --spool-path exclude each other: plain PUSH has no spool"}
		}
		if o.forward == "" {
			return usageError{"--spool-path needs --forward HOST[:PORT][,...]"}
		}
		if o.targets, err = parseTargets(o.forward); err != nil {
			return usageError{"--forward: " + err.Error()}
		}
		o.forward = strings.Join(o.targets, ",")
		if o.spoolMaxMB < 1 {
			return usageError{"--spool-max-mb must be at least 1"}
		}
		if o.failover <= 0 {
			return usageError{"--failover-after must be positive"}
		}
	}
	if o.link != "" {
		if o.link, err = ox.HostPort(o.link, DefaultLinkPort); err != nil {
			return usageError{"--link: " + err.Error()}
		}
		o.link = bindAll(o.link)
		if o.logPath == "" && o.spoolPath == "" {
			return usageError{"--link needs --log-path or --spool-path: acknowledged events must be written somewhere"}
		}
	}
	return nil
}

// parseTargets splits "host[:port],host[:port]" into link addresses.
func parseTargets(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("empty target in %q", s)
		}
		hp, err := ox.HostPort(t, DefaultLinkPort)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	return out, nil
}
