package ox

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Default ports of a BlueOx collector (oxd), as in the original.
const (
	DefaultControlPort = 3513 // REQ/REP admin port: status, stream discovery
	DefaultCollectPort = 3514 // PULL port that applications and forwarders PUSH to
)

// HostPort normalises a host string as BlueOx users write it, "host" or "host:port",
// to "host:port", taking defaultPort when no port is given. An IPv6 literal takes
// brackets when it has a port ("[::1]:3514"). A port that is not a number in 1..65535
// is an error that names the input.
func HostPort(s string, defaultPort int) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "tcp://")
	if s == "" {
		return "", fmt.Errorf("ox: empty host")
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if port == "" {
			return "", fmt.Errorf("ox: host %q: empty port", s)
		}
	} else if strings.Count(s, ":") == 1 {
		// "host:" or "host:abc": SplitHostPort accepted neither form, report the port.
		i := strings.IndexByte(s, ':')
		host, port = s[:i], s[i+1:]
		if port == "" {
			return "", fmt.Errorf("ox: host %q: empty port", s)
		}
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" {
		return "", fmt.Errorf("ox: host %q: empty host name", s)
	}
	if port == "" {
		return net.JoinHostPort(host, strconv.Itoa(defaultPort)), nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("ox: host %q: port %q is not a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// CollectAddr resolves the collection address applications send to: s when given,
// else $BLUEOX_HOST, else 127.0.0.1, with port 3514 when none is given.
func CollectAddr(s string) (string, error) {
	return addrWithEnv(s, "BLUEOX_HOST", DefaultCollectPort)
}

// ControlAddr resolves the control address admin tools talk to: s when given,
// else $BLUEOX_CLIENT_HOST, else 127.0.0.1, with port 3513 when none is given.
func ControlAddr(s string) (string, error) {
	return addrWithEnv(s, "BLUEOX_CLIENT_HOST", DefaultControlPort)
}

func addrWithEnv(s, env string, port int) (string, error) {
	if s == "" {
		s = os.Getenv(env)
	}
	if s == "" {
		s = "127.0.0.1"
	}
	return HostPort(s, port)
}
