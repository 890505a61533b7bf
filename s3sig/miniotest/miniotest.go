// Package miniotest runs a real MinIO server for integration tests: on a free
// loopback port, with a temporary data folder and credentials of its own.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // "http://127.0.0.1:port"
	AccessKey string
	SecretKey string
	cmd       *exec.Cmd
	dir       string
	done      chan struct{}
	logPath   string
}

// Find returns the path of the minio binary: $OX_TOOLS_BIN/minio, then
// $HOME/.cache/ox-test/bin/minio (where `make deps` installs it), then $PATH.
func Find() (string, error) {
	var candidates []string
	if d := os.Getenv("OX_TOOLS_BIN"); d != "" {
		candidates = append(candidates, filepath.Join(d, "minio"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(h, ".cache", "ox-test", "bin", "minio"))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New("minio not installed (run `make deps`)")
}

// Start runs the minio binary at bin and waits until it answers, for at most a
// minute. Close stops it and removes its data.
func Start(bin string) (*Server, error) {
	var lastErr error
	for try := 0; try < 3; try++ { // a free port can be taken between probe and bind
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "ox-minio-")
	if err != nil {
		return nil, err
	}
	port, err1 := freePort()
	cport, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	secret := make([]byte, 12)
	rand.Read(secret)
	s := &Server{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(port),
		AccessKey: "oxtest",
		SecretKey: "secret-" + hex.EncodeToString(secret),
		dir:       dir,
		done:      make(chan struct{}),
		logPath:   filepath.Join(dir, "minio.log"),
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "server", "--quiet",
		"--address", "127.0.0.1:"+strconv.Itoa(port),
		"--console-address", "127.0.0.1:"+strconv.Itoa(cport),
		filepath.Join(dir, "data"))
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("miniotest: start %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.Endpoint+"/minio/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(s.logPath)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("miniotest: minio exited early: %s", log)
		case <-ctx.Done():
			s.Close()
			return nil, errors.New("miniotest: minio not ready after a minute")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Env returns the AWS environment variables that point a client at the server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_ENDPOINT_URL_S3":   s.Endpoint,
		"AWS_DEFAULT_REGION":    "us-east-1",
	}
}

// Close stops the server and removes its data folder.
func (s *Server) Close() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
