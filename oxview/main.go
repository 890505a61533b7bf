// Command oxview prints BlueOx events as JSON, live from a collector's stream or
// from a log file on stdin (plain, gzip or bzip2).
//
//	oxview -H logs.example.com -n 'request*'
//	oxview -p < /var/log/blueox/20261124/request-20261124.log
//	oxview --group < request-20261123.log.bz2
package main

import "github.com/blueox/ox/internal/cli"

func main() { program.Main(run) }

// program is how oxview reports a failed run: "oxview: " before the error, and a
// pointer to -h after a usage error.
var program = cli.Command{Name: "oxview", HelpHint: true}
