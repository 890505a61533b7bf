// Command oxingest sends lines of text to a BlueOx collector as events, from stdin
// or by following log files like tail -F.
//
//	echo "I'm all done" | oxingest notices
//	oxingest -F /var/log/syslog -F /var/log/mail.err
//	oxingest -F nginx_access:/var/log/nginx/access.log --state-file /var/lib/oxingest.state
package main

import "github.com/blueox/ox/internal/cli"

func main() { program.Main(run) }

// program is how oxingest reports a failed run: "oxingest: " before the error, and a
// pointer to -h after a usage error.
var program = cli.Command{Name: "oxingest", HelpHint: true}
