package s3sig

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	// PartSize is the part size recorded by PutObject for a multipart upload
	// (0 when unknown), which ETagOf needs to reproduce a multipart ETag.
	PartSize int64
}

// PutOptions tunes PutObject.
type PutOptions struct {
	ContentType string
	// Progress, when set, is called after each part (or the whole object) is
	// stored, with the number of bytes just stored. Calls may come from several
	// goroutines, one at a time.
	Progress func(n int64)
}

const partSizeMeta = "X-Amz-Meta-Ox-Part-Size"

// PutObject stores size bytes read from body under key. Each body is hashed
// first (SHA-256 and MD5, streaming) and sent with Content-MD5 and a signed
// x-amz-content-sha256, so S3 rejects a body corrupted on the way. Objects above
// the multipart threshold go up in parts, two at a time; on failure the upload is
// aborted so no parts are left behind. body is read with ReadAt only, so every
// piece can be re-read for a retry and nothing is held in memory.
func (c *Client) PutObject(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts PutOptions) (ObjectInfo, error) {
	if size > c.cfg.MultipartThreshold {
		return c.putMultipart(ctx, bucket, key, body, size, opts)
	}
	sec := io.NewSectionReader(body, 0, size)
	sum256, sumMD5, err := hashSection(sec)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("s3: put object %s/%s: read body: %w", bucket, key, err)
	}
	h := http.Header{}
	h.Set("Content-Md5", base64.StdEncoding.EncodeToString(sumMD5))
	if opts.ContentType != "" {
		h.Set("Content-Type", opts.ContentType)
	}
	resp, err := c.do(ctx, request{
		op: "put object", method: http.MethodPut, bucket: bucket, key: key, header: h,
		body: func() io.Reader { return io.NewSectionReader(body, 0, size) }, size: size,
		payloadHash: hex.EncodeToString(sum256), idempotent: true,
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	resp.Body.Close()
	if opts.Progress != nil {
		opts.Progress(size)
	}
	return ObjectInfo{Key: key, Size: size, ETag: trimETag(resp.Header.Get("ETag"))}, nil
}

func hashSection(r io.Reader) (sum256, sumMD5 []byte, err error) {
	s, m := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(s, m), r); err != nil {
		return nil, nil, err
	}
	return s.Sum(nil), m.Sum(nil), nil
}

type completedPart struct {
	XMLName    xml.Name `xml:"Part"`
	PartNumber int      `xml:"PartNumber"`
	ETag       string   `xml:"ETag"`
}

func (c *Client) putMultipart(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts PutOptions) (ObjectInfo, error) {
	partSize := c.cfg.PartSize
	nparts := int((size + partSize - 1) / partSize)
	if nparts > 10000 {
		return ObjectInfo{}, fmt.Errorf("s3: put object %s/%s: %d bytes need more than 10000 parts of %d bytes", bucket, key, size, partSize)
	}
	h := http.Header{}
	h.Set(partSizeMeta, strconv.FormatInt(partSize, 10))
	if opts.ContentType != "" {
		h.Set("Content-Type", opts.ContentType)
	}
	resp, err := c.do(ctx, request{op: "create multipart upload", method: http.MethodPost, bucket: bucket, key: key,
		query: url.Values{"uploads": {""}}, header: h})
	if err != nil {
		return ObjectInfo{}, err
	}
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	err = decodeXML(resp, &created)
	if err == nil && created.UploadID == "" {
		err = errors.New("no UploadId in the reply")
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("s3: create multipart upload %s/%s: %w", bucket, key, err)
	}
	uploadID := created.UploadID

	info, err := c.uploadParts(ctx, bucket, key, uploadID, body, size, nparts, opts)
	if err != nil {
		// Abort with a context of its own: ctx may be the reason we failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if resp, aerr := c.do(actx, request{op: "abort multipart upload", method: http.MethodDelete, bucket: bucket, key: key,
			query: url.Values{"uploadId": {uploadID}}, idempotent: true}); aerr == nil {
			resp.Body.Close()
		} else {
			err = fmt.Errorf("%w (and the abort failed: %v)", err, aerr)
		}
		return ObjectInfo{}, err
	}
	info.PartSize = partSize
	return info, nil
}

func (c *Client) uploadParts(ctx context.Context, bucket, key, uploadID string, body io.ReaderAt, size int64, nparts int, opts PutOptions) (ObjectInfo, error) {
	partSize := c.cfg.PartSize
	etags := make([]string, nparts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	worker := func() {
		defer wg.Done()
		for {
			mu.Lock()
			i := next
			next++
			stop := firstErr != nil
			mu.Unlock()
			if stop || i >= nparts {
				return
			}
			off := int64(i) * partSize
			n := min(partSize, size-off)
			etag, err := c.uploadPart(ctx, bucket, key, uploadID, i+1, body, off, n)
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
			etags[i] = etag
			if err == nil && opts.Progress != nil {
				opts.Progress(n)
			}
			mu.Unlock()
		}
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	if firstErr != nil {
		return ObjectInfo{}, firstErr
	}

	var buf bytes.Buffer
	buf.WriteString("<CompleteMultipartUpload>")
	for i, e := range etags {
		fmt.Fprintf(&buf, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i+1, e)
	}
	buf.WriteString("</CompleteMultipartUpload>")
	payload := buf.Bytes()
	sum := sha256.Sum256(payload)
	resp, err := c.do(ctx, request{op: "complete multipart upload", method: http.MethodPost, bucket: bucket, key: key,
		query: url.Values{"uploadId": {uploadID}}, body: func() io.Reader { return bytes.NewReader(payload) },
		size: int64(len(payload)), payloadHash: hex.EncodeToString(sum[:])})
	if err != nil {
		return ObjectInfo{}, err
	}
	// S3 may answer 200 and still fail: the error is then in the body.
	var done struct {
		XMLName xml.Name
		ETag    string `xml:"ETag"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if err := decodeXML(resp, &done); err != nil {
		return ObjectInfo{}, fmt.Errorf("s3: complete multipart upload %s/%s: %w", bucket, key, err)
	}
	if done.XMLName.Local == "Error" {
		return ObjectInfo{}, fmt.Errorf("s3: complete multipart upload %s/%s: %w", bucket, key,
			&Error{StatusCode: resp.StatusCode, Code: done.Code, Message: done.Message, Bucket: bucket})
	}
	return ObjectInfo{Key: key, Size: size, ETag: trimETag(done.ETag)}, nil
}

func (c *Client) uploadPart(ctx context.Context, bucket, key, uploadID string, num int, body io.ReaderAt, off, n int64) (string, error) {
	sum256, sumMD5, err := hashSection(io.NewSectionReader(body, off, n))
	if err != nil {
		return "", fmt.Errorf("s3: upload part %d of %s/%s: read body: %w", num, bucket, key, err)
	}
	h := http.Header{}
	h.Set("Content-Md5", base64.StdEncoding.EncodeToString(sumMD5))
	resp, err := c.do(ctx, request{op: "upload part " + strconv.Itoa(num) + " of", method: http.MethodPut, bucket: bucket, key: key,
		query: url.Values{"partNumber": {strconv.Itoa(num)}, "uploadId": {uploadID}}, header: h,
		body: func() io.Reader { return io.NewSectionReader(body, off, n) }, size: n,
		payloadHash: hex.EncodeToString(sum256), idempotent: true})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	etag := trimETag(resp.Header.Get("ETag"))
	if etag == "" {
		etag = hex.EncodeToString(sumMD5)
	}
	return etag, nil
}

// ETagOf computes the ETag S3 gives an unencrypted object with these contents:
// uploaded whole, the hex MD5 of the body; uploaded in n parts of partSize bytes,
// the hex MD5 of the concatenated part MD5s followed by "-n". It reads r
// streaming. Comparing it with the stored ETag checks the stored bytes.
func ETagOf(r io.ReaderAt, size, partSize int64, multipart bool) (string, error) {
	if !multipart {
		m := md5.New()
		if _, err := io.Copy(m, io.NewSectionReader(r, 0, size)); err != nil {
			return "", err
		}
		return hex.EncodeToString(m.Sum(nil)), nil
	}
	if partSize <= 0 {
		return "", errors.New("s3: ETag of a multipart object needs its part size")
	}
	all := md5.New()
	n := 0
	for off := int64(0); off < size || n == 0; off += partSize {
		m := md5.New()
		if _, err := io.Copy(m, io.NewSectionReader(r, off, min(partSize, size-off))); err != nil {
			return "", err
		}
		all.Write(m.Sum(nil))
		n++
	}
	return hex.EncodeToString(all.Sum(nil)) + "-" + strconv.Itoa(n), nil
}

// GetObject returns the object's body as a stream (close it) and its details.
func (c *Client) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, ObjectInfo, error) {
	resp, err := c.do(ctx, request{op: "get object", method: http.MethodGet, bucket: bucket, key: key, idempotent: true})
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	return resp.Body, infoFromHeader(key, resp), nil
}

// HeadObject returns an object's details; a missing object gives an error for
// which IsNotFound is true.
func (c *Client) HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	resp, err := c.do(ctx, request{op: "head object", method: http.MethodHead, bucket: bucket, key: key, idempotent: true})
	if err != nil {
		return ObjectInfo{}, err
	}
	resp.Body.Close()
	return infoFromHeader(key, resp), nil
}

func infoFromHeader(key string, resp *http.Response) ObjectInfo {
	info := ObjectInfo{Key: key, Size: resp.ContentLength, ETag: trimETag(resp.Header.Get("ETag"))}
	info.LastModified, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	info.PartSize, _ = strconv.ParseInt(resp.Header.Get(partSizeMeta), 10, 64)
	return info
}

// DeleteObject removes an object (S3 reports success for a missing key too).
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	resp, err := c.do(ctx, request{op: "delete object", method: http.MethodDelete, bucket: bucket, key: key, idempotent: true})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// CreateBucket creates a bucket in the client's region.
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	r := request{op: "create bucket", method: http.MethodPut, bucket: bucket}
	if c.cfg.Region != "us-east-1" {
		payload := []byte("<CreateBucketConfiguration><LocationConstraint>" + c.cfg.Region +
			"</LocationConstraint></CreateBucketConfiguration>")
		sum := sha256.Sum256(payload)
		r.body, r.size, r.payloadHash = func() io.Reader { return bytes.NewReader(payload) }, int64(len(payload)), hex.EncodeToString(sum[:])
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ListOptions selects and pages a listing.
type ListOptions struct {
	Prefix     string
	StartAfter string
	PageSize   int // keys per request, 1..1000 (default 1000)
}

// ListObjectsV2 yields the objects under opts.Prefix in key order, fetching
// pages as the loop goes. An error ends the sequence.
func (c *Client) ListObjectsV2(ctx context.Context, bucket string, opts ListOptions) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		token := ""
		for {
			page, err := c.listPage(ctx, bucket, opts, token)
			if err != nil {
				yield(ObjectInfo{}, err)
				return
			}
			for _, o := range page.Contents {
				if !yield(o, nil) {
					return
				}
			}
			if !page.Truncated || page.NextToken == "" {
				return
			}
			token = page.NextToken
		}
	}
}

// ListPage is one page of a ListObjectsV2 reply.
type ListPage struct {
	Contents  []ObjectInfo
	Truncated bool
	NextToken string
}

func (c *Client) listPage(ctx context.Context, bucket string, opts ListOptions, token string) (ListPage, error) {
	q := url.Values{"list-type": {"2"}, "encoding-type": {"url"}}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.StartAfter != "" {
		q.Set("start-after", opts.StartAfter)
	}
	if opts.PageSize > 0 {
		q.Set("max-keys", strconv.Itoa(min(opts.PageSize, 1000)))
	}
	if token != "" {
		q.Set("continuation-token", token)
	}
	resp, err := c.do(ctx, request{op: "list objects in", method: http.MethodGet, bucket: bucket, query: q, idempotent: true})
	if err != nil {
		return ListPage{}, err
	}
	defer resp.Body.Close()
	// A page holds at most 1000 keys of at most 1 KiB each: 8 MiB is far more
	// than a real reply, and bounds what a broken or hostile server costs.
	page, err := ParseListPage(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return ListPage{}, fmt.Errorf("s3: list objects in %s: %w", bucket, err)
	}
	return page, nil
}

// ParseListPage decodes a ListObjectsV2 XML reply (keys URL-encoded or not).
func ParseListPage(r io.Reader) (ListPage, error) {
	var x struct {
		XMLName      xml.Name `xml:"ListBucketResult"`
		IsTruncated  bool     `xml:"IsTruncated"`
		NextToken    string   `xml:"NextContinuationToken"`
		EncodingType string   `xml:"EncodingType"`
		Contents     []struct {
			Key          string `xml:"Key"`
			Size         int64  `xml:"Size"`
			ETag         string `xml:"ETag"`
			LastModified string `xml:"LastModified"`
		} `xml:"Contents"`
	}
	if err := xml.NewDecoder(r).Decode(&x); err != nil {
		return ListPage{}, fmt.Errorf("bad listing: %w", err)
	}
	page := ListPage{Truncated: x.IsTruncated, NextToken: x.NextToken}
	for _, c := range x.Contents {
		key := c.Key
		if x.EncodingType == "url" {
			k, err := url.QueryUnescape(key)
			if err != nil {
				return ListPage{}, fmt.Errorf("bad key %q in listing: %w", key, err)
			}
			key = k
		}
		t, _ := time.Parse(time.RFC3339, c.LastModified)
		page.Contents = append(page.Contents, ObjectInfo{Key: key, Size: c.Size, ETag: trimETag(c.ETag), LastModified: t})
	}
	return page, nil
}

func decodeXML(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("bad reply: %w", err)
	}
	return nil
}

func trimETag(s string) string { return strings.Trim(s, `"`) }
