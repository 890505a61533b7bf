package cli

import (
	"context"
	"io"
)

// ContextReader returns a reader of r that fails with ctx's error once ctx ends,
// so a command reading a large (or hostile) input stops at the next read after
// SIGTERM instead of finishing the input first. A read already blocked in r is not
// interrupted.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	if ctx == nil {
		return r
	}
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
