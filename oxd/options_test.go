package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o options)
		usage string // a usage error containing this
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o options) {
			if o.control != "127.0.0.1:3513" || o.collect != "127.0.0.1:3514" || o.logPath != "" || o.rotateHours != 0 || o.verbose != 0 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "environment", env: map[string]string{"BLUEOX_CLIENT_HOST": "10.0.0.1", "BLUEOX_HOST": "10.0.0.2:9"},
			check: func(t *testing.T, o options) {
				if o.control != "10.0.0.1:3513" || o.collect != "10.0.0.2:9" {
					t.Errorf("%+v", o)
				}
			}},
		{name: "short flags", args: []string{"-t", "h1", "-c", "h2:5", "-r", "h3", "-l", "/x", "-vv"},
			env: map[string]string{"BLUEOX_HOST": "ignored"},
			check: func(t *testing.T, o options) {
				if o.control != "h1:3513" || o.collect != "h2:5" || o.forward != "h3:3514" || o.logPath != "/x" || o.verbose != 2 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "long flags", args: []string{"--control", "h1:1", "--collect", "h2", "--forward", "h3:7", "--log-path", "/y", "--rotate-hours", "12", "-v", "-v", "-v"},
			check: func(t *testing.T, o options) {
				if o.control != "h1:1" || o.collect != "h2:3514" || o.forward != "h3:7" || o.logPath != "/y" || o.rotateHours != 12 || o.verbose != 3 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "star binds every interface", args: []string{"--collect", "*", "-t", "*:7"},
			check: func(t *testing.T, o options) {
				if o.collect != ":3514" || o.control != ":7" {
					t.Errorf("%+v", o)
				}
			}},
		{name: "rotate-hours 1", args: []string{"--rotate-hours", "1"}, check: func(t *testing.T, o options) {
			if o.rotateHours != 1 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "rotate-hours 13", args: []string{"--rotate-hours", "13"}, usage: "1 to 12"},
		{name: "rotate-hours -1", args: []string{"--rotate-hours", "-1"}, usage: "1 to 12"},
		{name: "rotate-hours not a number", args: []string{"--rotate-hours", "x"}, usage: "rotate-hours"},
		{name: "bad control port", args: []string{"-t", "h:port"}, usage: "--control"},
		{name: "bad collect port", args: []string{"-c", "h:70000"}, usage: "--collect"},
		{name: "bad forward port", args: []string{"-r", "h:"}, usage: "--forward"},
		{name: "unknown flag", args: []string{"--nope"}, usage: "nope"},
		{name: "stray argument", args: []string{"extra"}, usage: "extra"},
		{name: "zero forward queue", args: []string{"--forward-queue-mb", "0"}, usage: "forward-queue-mb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BLUEOX_CLIENT_HOST", "")
			t.Setenv("BLUEOX_HOST", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			o, err := parseOptions(tc.args, &stderr)
			if tc.usage != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.usage) {
					t.Fatalf("got %v, want a usage error about %q", err, tc.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, nil, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h: %v", err)
	}
	if stderr.Len() > 0 {
		t.Errorf("-h wrote on stderr: %q", stderr.String())
	}
	for _, f := range []string{"--control", "--collect", "--forward", "--log-path", "--rotate-hours", "-v", "BLUEOX_HOST", "BLUEOX_CLIENT_HOST", "--stream-port", "--forward-queue-mb"} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("help does not mention %s", f)
		}
	}
}

func TestRunReportsPortsInUse(t *testing.T) {
	x := startOxd(t, nil)
	err := run(context.Background(), []string{"-c", x.collect, "-t", freeAddr(t)}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "collect") {
		t.Fatalf("second oxd on the same port: %v", err)
	}
}
