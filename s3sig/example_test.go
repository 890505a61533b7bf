package s3sig_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/blueox/ox/s3sig"
)

// Sign a request by hand, with the time passed in (AWS's documented example).
func ExampleSign() {
	req, _ := http.NewRequest("GET", "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	req.Header.Set("Range", "bytes=0-9")
	creds := s3sig.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	if err := s3sig.Sign(req, creds, "us-east-1", "s3", s3sig.EmptyPayloadHash, now); err != nil {
		panic(err)
	}
	auth := req.Header.Get("Authorization")
	fmt.Println(auth[strings.Index(auth, "Signature="):])
	// Output: Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41
}

// Upload a file with the configuration the AWS tools use.
func ExampleClient_PutObject() {
	cfg, err := s3sig.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := s3sig.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := os.Open("request-20261124.log.gz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fi, _ := f.Stat()
	info, err := c.PutObject(context.Background(), "my-logs", "20261124/request-20261124-web1.log.gz", f, fi.Size(), s3sig.PutOptions{})
	fmt.Println(info.ETag, err)
}

// List the objects of one day folder, page after page.
func ExampleClient_ListObjectsV2() {
	c, err := s3sig.New(s3sig.Config{
		Credentials: s3sig.Credentials{AccessKeyID: "minio", SecretAccessKey: "minio-secret"},
		Endpoint:    "http://127.0.0.1:9000",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for obj, err := range c.ListObjectsV2(context.Background(), "my-logs", s3sig.ListOptions{Prefix: "20261124/"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(obj.Key, obj.Size)
	}
}
