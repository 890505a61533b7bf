package s3sig

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
	"github.com/blueox/ox/s3sig/miniotest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.CloseShared()
	os.Exit(code)
}

func minioClient(t *testing.T, edit func(*Config)) *Client {
	t.Helper()
	srv := miniotest.Shared(t)
	cfg := Config{
		Credentials: Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey},
		Endpoint:    srv.Endpoint, RetryBase: time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newBucket(t *testing.T, c *Client, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if err := c.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

func TestObjectRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, nil)
	bucket := newBucket(t, c, "round-")
	key := "20261124/request-20261124-host a+b$.log.gz"
	body := []byte("hello, S3")
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.HeadObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ETagOf(bytes.NewReader(body), int64(len(body)), 0, false)
	if info.Size != int64(len(body)) || info.ETag != want {
		t.Errorf("head: %+v, want size %d etag %s", info, len(body), want)
	}
	rc, _, err := c.GetObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("get: %q", got)
	}
	if err := c.DeleteObject(ctx, bucket, key); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, bucket, key); !IsNotFound(err) {
		t.Errorf("head after delete: %v, want not found", err)
	}
}

func TestEmptyObjectRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, nil)
	bucket := newBucket(t, c, "empty-")
	if _, err := c.PutObject(ctx, bucket, "empty", bytes.NewReader(nil), 0, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if info, err := c.HeadObject(ctx, bucket, "empty"); err != nil || info.Size != 0 {
		t.Fatalf("head: %+v %v", info, err)
	}
}

func TestMultipartUploadStoresEveryPartAndETagMatches(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, func(cfg *Config) { cfg.PartSize = 5 << 20 })
	bucket := newBucket(t, c, "multi-")
	body := make([]byte, 12<<20+123)
	rand.Read(body)
	var progress int64
	var mu sync.Mutex
	info, err := c.PutObject(ctx, bucket, "big", bytes.NewReader(body), int64(len(body)), PutOptions{
		Progress: func(n int64) { mu.Lock(); progress += n; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if progress != int64(len(body)) {
		t.Errorf("progress reported %d bytes, want %d", progress, len(body))
	}
	want, _ := ETagOf(bytes.NewReader(body), int64(len(body)), 5<<20, true)
	if info.ETag != want || !strings.HasSuffix(want, "-3") {
		t.Errorf("etag %s, want %s", info.ETag, want)
	}
	head, err := c.HeadObject(ctx, bucket, "big")
	if err != nil || head.ETag != want || head.PartSize != 5<<20 || head.Size != int64(len(body)) {
		t.Errorf("head %+v %v", head, err)
	}
	rc, _, err := c.GetObject(ctx, bucket, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, body) {
		t.Error("downloaded body differs")
	}
}

// failingReaderAt fails every read past a byte offset, as a disk error would.
type failingReaderAt struct {
	r     io.ReaderAt
	limit int64
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errors.New("injected read error")
	}
	return f.r.ReadAt(p, off)
}

func TestMultipartFailureAbortsTheUpload(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, func(cfg *Config) { cfg.PartSize = 5 << 20 })
	bucket := newBucket(t, c, "abort-")
	body := make([]byte, 11<<20)
	_, err := c.PutObject(ctx, bucket, "broken", failingReaderAt{bytes.NewReader(body), 6 << 20}, int64(len(body)), PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "injected read error") {
		t.Fatalf("err = %v, want the read error", err)
	}
	resp, err := c.do(ctx, request{op: "list uploads", method: http.MethodGet, bucket: bucket, query: url.Values{"uploads": {""}}})
	if err != nil {
		t.Fatal(err)
	}
	listing, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(listing, []byte("<UploadId>")) {
		t.Errorf("an upload was left behind:\n%s", listing)
	}
	if _, err := c.HeadObject(ctx, bucket, "broken"); !IsNotFound(err) {
		t.Errorf("object exists after a failed upload: %v", err)
	}
}

func TestListObjectsV2PagesThroughAPrefix(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, nil)
	bucket := newBucket(t, c, "list-")
	var want []string
	for i := range 7 {
		key := fmt.Sprintf("20261124/k%02d", i)
		want = append(want, key)
		if _, err := c.PutObject(ctx, bucket, key, strings.NewReader("x"), 1, PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutObject(ctx, bucket, "20261125/other", strings.NewReader("x"), 1, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for o, err := range c.ListObjectsV2(ctx, bucket, ListOptions{Prefix: "20261124/", PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Key)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestErrorsSayWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	srv := miniotest.Shared(t)
	good := minioClient(t, nil)
	bucket := newBucket(t, good, "errs-")
	tests := []struct {
		name string
		edit func(*Config)
		bkt  string
		want []string
	}{
		{"wrong secret names the signature", func(c *Config) { c.Credentials.SecretAccessKey = "wrong" }, bucket,
			[]string{"SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"}},
		{"unknown access key", func(c *Config) { c.Credentials.AccessKeyID = "nobody" }, bucket,
			[]string{"InvalidAccessKeyId"}},
		{"missing bucket", nil, "no-such-bucket-here", []string{"NoSuchBucket", "no-such-bucket-here"}},
		{"unreachable endpoint", func(c *Config) {
			c.Endpoint = "http://127.0.0.1:" + fmt.Sprint(testenv.FreePort(t))
			c.MaxAttempts = 2
		}, bucket, []string{"unreachable"}},
	}
	_ = srv
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := minioClient(t, tc.edit)
			_, err := c.PutObject(ctx, tc.bkt, "k", strings.NewReader("x"), 1, PutOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDottedBucketWorks(t *testing.T) {
	ctx := context.Background()
	c := minioClient(t, nil)
	bucket := newBucket(t, c, "logs.example.")
	if _, err := c.PutObject(ctx, bucket, "a/b", strings.NewReader("dots"), 4, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if info, err := c.HeadObject(ctx, bucket, "a/b"); err != nil || info.Size != 4 {
		t.Fatalf("head %+v %v", info, err)
	}
}
