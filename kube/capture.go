package kube

import (
	"bytes"
	"io"
	"sync"
)

// capture keeps the first limit bytes written to it, forwards every byte
// to tee, and remembers whether it dropped any: the local backend's
// semantics for ExecResult's output and truncation flags.
type capture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
	tee       io.Writer
	teeErr    error
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.limit - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		c.buf.Write(p[:max(room, 0)])
		c.truncated = true
	}
	if c.tee != nil && c.teeErr == nil {
		// A failing caller writer must not stop the stream (the command
		// would block on a full pipe): stop forwarding instead.
		_, c.teeErr = c.tee.Write(p)
	}
	return len(p), nil
}

// result returns the captured bytes (never nil) and the truncation flag.
func (c *capture) result() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	if b == nil {
		b = []byte{}
	}
	return b, c.truncated
}
