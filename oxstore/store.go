package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"

	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/s3sig"
)

// store is all oxstore needs from object storage, for one bucket.
type store interface {
	// Check fails with a clear error when the bucket cannot be used.
	Check(ctx context.Context) error
	Put(ctx context.Context, key string, body io.ReaderAt, size int64, progress func(int64)) error
	// Head returns errNotFound (wrapped) for a missing key.
	Head(ctx context.Context, key string) (s3sig.ObjectInfo, error)
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	List(ctx context.Context, prefix string) iter.Seq2[s3sig.ObjectInfo, error]
	// Matches reports whether the stored object has exactly the contents of the
	// local file (size and checksum).
	Matches(info s3sig.ObjectInfo, local io.ReaderAt, size int64) (bool, error)
}

var errNotFound = errors.New("not found")

// openStore returns the store for the --bucket option.
func (a *app) openStore(g *globals) (store, error) {
	if g.bucket == "" {
		return nil, cli.Usagef("no bucket: give --bucket or set BLUEOX_BUCKET")
	}
	if a.newStore != nil {
		return a.newStore(g.bucket)
	}
	cfg, err := s3sig.ConfigFromEnv(a.getenv)
	if err != nil {
		return nil, err
	}
	c, err := s3sig.New(cfg)
	if err != nil {
		return nil, err
	}
	return &s3Store{c: c, bucket: g.bucket}, nil
}

type s3Store struct {
	c      *s3sig.Client
	bucket string
}

func (s *s3Store) Check(ctx context.Context) error {
	for _, err := range s.c.ListObjectsV2(ctx, s.bucket, s3sig.ListOptions{PageSize: 1}) {
		if err != nil {
			return err
		}
		break
	}
	return nil
}

func (s *s3Store) Put(ctx context.Context, key string, body io.ReaderAt, size int64, progress func(int64)) error {
	ct := "application/octet-stream"
	if strings.HasSuffix(key, ".gz") {
		ct = "application/gzip"
	}
	_, err := s.c.PutObject(ctx, s.bucket, key, body, size, s3sig.PutOptions{ContentType: ct, Progress: progress})
	return err
}

func (s *s3Store) Head(ctx context.Context, key string) (s3sig.ObjectInfo, error) {
	info, err := s.c.HeadObject(ctx, s.bucket, key)
	if s3sig.IsNotFound(err) && s3sig.Code(err) != "NoSuchBucket" {
		return info, fmt.Errorf("%s: %w", key, errNotFound)
	}
	return info, err
}

func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := s.c.GetObject(ctx, s.bucket, key)
	return rc, err
}

func (s *s3Store) List(ctx context.Context, prefix string) iter.Seq2[s3sig.ObjectInfo, error] {
	return s.c.ListObjectsV2(ctx, s.bucket, s3sig.ListOptions{Prefix: prefix})
}

func (s *s3Store) Matches(info s3sig.ObjectInfo, local io.ReaderAt, size int64) (bool, error) {
	if info.Size != size {
		return false, nil
	}
	multipart := strings.Contains(info.ETag, "-")
	partSize := info.PartSize
	if partSize == 0 {
		partSize = s.c.PartSize()
	}
	if !multipart && len(info.ETag) != 32 {
		return false, nil // not an MD5 (e.g. SSE-KMS): cannot confirm
	}
	want, err := s3sig.ETagOf(local, size, partSize, multipart)
	if err != nil {
		return false, err
	}
	return want == info.ETag, nil
}

// matchesFile opens path and asks the store whether info holds its contents.
func matchesFile(st store, info s3sig.ObjectInfo, path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	return st.Matches(info, f, fi.Size())
}
