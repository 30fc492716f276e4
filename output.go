package sandbox

import (
	"bytes"
	"io"
	"sync"
)

// maxQueuedOutput bounds what waits for a slow caller writer, per stream.
// Past it the pipe is no longer read, so the command feels the writer's
// pace, as it would writing to the writer directly; the deadline still
// ends the wait (abandon).
const maxQueuedOutput = 8 << 20

// outputSink receives one output stream of a command. It keeps the first
// limit bytes for the result and forwards every byte, in order, to the
// caller's writer from a goroutine of its own, so that a slow or stuck
// writer never holds up the reading of the pipe beyond maxQueuedOutput,
// nor Exec beyond its deadline.
type outputSink struct {
	mu        sync.Mutex
	cond      sync.Cond // signalled when the queue shrinks, grows or ends
	buf       bytes.Buffer
	limit     int
	truncated bool

	w       io.Writer // nil: nothing to forward
	queue   [][]byte
	queued  int
	closed  bool          // no more input
	failed  bool          // the writer failed or was abandoned
	stopped bool          // the forwarder has returned
	flushed chan struct{} // closed when the forwarder has stopped
}

func newOutputSink(limit int, w io.Writer) *outputSink {
	o := &outputSink{limit: limit, w: w, flushed: make(chan struct{})}
	o.cond.L = &o.mu
	if w == nil {
		close(o.flushed)
	} else {
		go o.forward()
	}
	return o
}

// Write keeps what fits under the limit and queues p for the writer. It
// never fails, so the pipe is always drained.
func (o *outputSink) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := o.limit - o.buf.Len()
	if room >= len(p) {
		o.buf.Write(p)
	} else {
		o.buf.Write(p[:max(room, 0)])
		o.truncated = true
	}
	if o.w == nil {
		return len(p), nil
	}
	for !o.failed && o.queued >= maxQueuedOutput {
		o.cond.Wait()
	}
	if !o.failed {
		o.queue = append(o.queue, bytes.Clone(p))
		o.queued += len(p)
		o.cond.Broadcast()
	}
	return len(p), nil
}

// forward hands queued output to the writer until the input has ended and
// the queue is empty, or the writer failed or was abandoned.
func (o *outputSink) forward() {
	defer close(o.flushed)
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { o.stopped = true }()
	for {
		for !o.failed && len(o.queue) == 0 && !o.closed {
			o.cond.Wait()
		}
		if o.failed || len(o.queue) == 0 {
			return
		}
		chunk := o.queue[0]
		o.queue[0] = nil
		o.queue = o.queue[1:]
		o.mu.Unlock()
		_, err := o.w.Write(chunk)
		o.mu.Lock()
		o.queued -= len(chunk)
		if err != nil {
			o.failed = true
		}
		o.cond.Broadcast()
	}
}

// closeInput says no more output comes; the forwarder stops once the
// queue is delivered.
func (o *outputSink) closeInput() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// abandon marks the writer failed: it receives nothing more, and a Write
// waiting for queue room returns at once.
func (o *outputSink) abandon() {
	o.mu.Lock()
	if o.w != nil && !o.stopped {
		o.failed = true
	}
	o.queue, o.queued = nil, 0
	o.cond.Broadcast()
	o.mu.Unlock()
}

// result returns the kept bytes, whether some were dropped, and whether
// the writer failed.
func (o *outputSink) result() (kept []byte, truncated, writerFailed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	kept = o.buf.Bytes()
	if kept == nil {
		kept = []byte{}
	}
	return kept, o.truncated, o.failed
}

// copyBuffers are reused across execs: two 32 KiB buffers per command
// were most of the memory an exec allocated.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyPooled copies src to dst through a pooled buffer.
func copyPooled(dst io.Writer, src io.Reader) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Hide the source's WriteTo: *os.File has one that would copy through
	// a buffer of its own.
	_, _ = io.CopyBuffer(dst, struct{ io.Reader }{src}, *buf)
}
