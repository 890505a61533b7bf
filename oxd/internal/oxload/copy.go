package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// copyBuffer is the copy ceiling's read and write size: large enough that system
// calls cost little per event.
const copyBuffer = 1 << 20

// copyTo ADDR FILE N: the ceiling for a collector that stores what it receives.
// It accepts one connection, does the PULL side of the ZMTP handshake, then
// copies the connection's bytes (frames, headers and all, unparsed) into FILE in
// reads and writes of up to 1 MiB until the sender closes. It prints "ready",
// then the Unix nanoseconds when the last byte was written and its own CPU time
// in nanoseconds.
func copyTo(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: oxload copyto ADDR FILE")
	}
	l, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	f, err := os.Create(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Println("ready")
	nc, err := l.Accept()
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := pullHandshake(nc); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	buf := make([]byte, copyBuffer)
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	t1 := time.Now().UnixNano()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Println(t1, ru.Utime.Nano()+ru.Stime.Nano())
	return nil
}

// pullHandshake does the PULL side of a ZMTP 3.0 NULL handshake on nc with
// unbuffered reads, so that no event byte is read before the copy starts.
func pullHandshake(nc net.Conn) error {
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	defer nc.SetDeadline(time.Time{})
	var g [64]byte
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], "NULL")
	if _, err := nc.Write(g[:]); err != nil {
		return err
	}
	var p [64]byte
	if _, err := io.ReadFull(nc, p[:]); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if p[0] != 0xff || p[9] != 0x7f || p[10] < 3 {
		return errors.New("not a ZMTP 3 peer")
	}
	// READY with Socket-Type PULL.
	body := append([]byte{5}, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, 4)
	body = append(body, "PULL"...)
	if _, err := nc.Write(append([]byte{0x04, byte(len(body))}, body...)); err != nil {
		return err
	}
	// The peer's READY: a command frame, short or long.
	var h [9]byte
	if _, err := io.ReadFull(nc, h[:2]); err != nil {
		return fmt.Errorf("read READY: %w", err)
	}
	if h[0]&0x04 == 0 {
		return errors.New("expected a command frame")
	}
	size := uint64(h[1])
	if h[0]&0x02 != 0 {
		if _, err := io.ReadFull(nc, h[2:9]); err != nil {
			return fmt.Errorf("read READY: %w", err)
		}
		size = binary.BigEndian.Uint64(h[1:9])
	}
	if size > 1<<16 {
		return fmt.Errorf("READY of %d bytes", size)
	}
	_, err := io.CopyN(io.Discard, nc, int64(size))
	return err
}

// runCopy measures the copy ceiling: a receiver process writing the bytes to a
// file in a fresh directory, timed like oxd from the sender's first write to
// the last byte written.
func runCopy(self, parent string, n, size int) (result, error) {
	dir, err := os.MkdirTemp(parent, "oxload")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "copyto", addr, filepath.Join(dir, "copy"))
	t0, last, err := timeReceiver(cmd, "copy receiver", self, addr, n, size)
	if err != nil {
		return result{}, err
	}
	f := strings.Fields(last)
	if len(f) != 2 {
		return result{}, fmt.Errorf("copy receiver said %q", last)
	}
	t1, _ := strconv.ParseInt(f[0], 10, 64)
	cpu, _ := strconv.ParseInt(f[1], 10, 64)
	return result{rate: float64(n) / (float64(t1-t0) / 1e9), cpu: float64(cpu) / 1e9}, nil
}
