package storage

import (
	"context"
	"io"
)

// ContextReader returns a reader that reads from r until ctx is done, then
// fails with ctx's error. Store implementations wrap the reader given to Put
// with it so that a cancellation stops the copy at the next Read.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
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
