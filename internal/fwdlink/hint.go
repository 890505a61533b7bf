package fwdlink

import (
	"errors"
	"strings"
)

// wrongPortHint returns advice when err shows the forwarder's target is not a link
// port at all (a collection, control or stream port of a collector): retrying
// will never help, and the user should hear it in the log, not only in STATUS.
func wrongPortHint(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	switch {
	case strings.Contains(s, `peer="PULL"`):
		return "the target is a collection port (PULL, default 3514), not a link port: point --forward at the next collector's --link address (default port 3515), or forward to a collection port without --spool-path (plain PUSH)"
	case strings.Contains(s, `peer="PUB"`):
		return "the target is a stream port (PUB), not a link port: point --forward at the next collector's --link address (default port 3515)"
	case strings.Contains(s, `peer="PUSH"`), strings.Contains(s, `peer="SUB"`), strings.Contains(s, `peer="REQ"`):
		return "the target is not a collector's link port: point --forward at the next collector's --link address (default port 3515)"
	case errors.Is(err, ErrFrame) && strings.Contains(s, "bad magic"):
		return "the target speaks ZeroMQ but not the link protocol (a control port, default 3513?): point --forward at the next collector's --link address (default port 3515)"
	case strings.Contains(s, "handshake") && (strings.Contains(s, "signature") || strings.Contains(s, "greeting")):
		return "the target does not speak ZeroMQ: point --forward at the next collector's --link address (default port 3515)"
	}
	return ""
}
