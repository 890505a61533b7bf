package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/go-zeromq/zmq4"
)

// The service records its events to a collector: the request, its .db, .log and
// .httpclient sub-events, and the /quote request it made to itself.
func TestServiceRecordsEvents(t *testing.T) {
	pullCtx, stopPull := context.WithCancel(context.Background())
	defer stopPull()
	pull := zmq4.NewPull(pullCtx) // outlives the service, to receive what it flushes
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer pull.Close()
	if err := pull.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	collect := pull.Addr().String()

	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-l", "127.0.0.1:0", "-H", collect}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (stderr: %s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	resp, err := http.Get(url + "/hello/ada")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello, ada (visit 3): Babe") {
		t.Fatalf("GET /hello/ada: %d %q", resp.StatusCode, body)
	}
	cancel() // stop the service: it flushes its events on the way out
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("service did not stop")
	}

	recvCtx, stopRecv := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopRecv()
	msgs := make(chan zmq4.Msg)
	go func() {
		for recvCtx.Err() == nil {
			m, err := pull.Recv()
			if err == nil {
				select {
				case msgs <- m:
				case <-recvCtx.Done():
				}
			}
		}
	}()
	want := []string{"request", "request", "request.db", "request.httpclient", "request.log"}
	var got []string
	for len(got) < len(want) {
		select {
		case m := <-msgs:
			r, err := ox.DecodeRecord(m.Frames[1])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Type)
		case <-recvCtx.Done():
			t.Fatalf("received %v, want %v", got, want)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(stderr.String(), "usage: webservice") {
		t.Errorf("-h printed %q", stderr.String())
	}
	err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard)
	var u usageError
	if !errors.As(err, &u) {
		t.Errorf("extra argument: %v, want a usage error", err)
	}
	if err := run(context.Background(), []string{"-H", "host:notaport"}, io.Discard, io.Discard); !errors.As(err, &u) {
		t.Errorf("bad collector: %v, want a usage error", err)
	}
}
