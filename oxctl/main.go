// Command oxctl asks a running collector (oxd) for its status, and is the home of
// its administrative subcommands.
//
//	oxctl                 status of the local oxd
//	oxctl -H logs:3513    status of another one
//	oxctl -r | jq .hosts  the STATUS reply as JSON
package main

import "github.com/blueox/ox/internal/cli"

func main() { program.Main(run) }

// program is how oxctl reports a failed run: "oxctl: " before the error, and a
// pointer to -h after a usage error.
var program = cli.Command{Name: "oxctl", HelpHint: true}
