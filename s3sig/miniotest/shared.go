package miniotest

import (
	"sync"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// shared is the one MinIO of a test process (see Shared).
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test process's one MinIO, started by the first call, so
// that the tests of a package share it. When MinIO is not installed or does
// not start, the test is skipped (failed under CI=true). TestMain calls
// CloseShared after m.Run.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		bin, err := Find()
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = Start(bin)
	})
	if shared.err != nil {
		testenv.Skip(t, "%v", shared.err)
	}
	return shared.srv
}

// CloseShared stops the MinIO that Shared started, if it did.
func CloseShared() {
	if shared.srv != nil {
		shared.srv.Close()
	}
}
