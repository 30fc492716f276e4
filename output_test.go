package sandbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// The sink keeps the first limit bytes for the result and hands every
// byte, in order, to the caller's writer.
func TestOutputSinkKeepsAndForwardsInOrder(t *testing.T) {
	var got bytes.Buffer
	o := newOutputSink(10, &got)
	for _, chunk := range []string{"abc", "defg", "hijkl", "mnop"} {
		o.Write([]byte(chunk))
	}
	o.closeInput()
	<-o.flushed
	kept, truncated, failed := o.result()
	if string(kept) != "abcdefghij" || !truncated || failed {
		t.Fatalf("kept %q truncated %v failed %v", kept, truncated, failed)
	}
	if got.String() != "abcdefghijklmnop" {
		t.Fatalf("writer got %q, want every byte in order", got.String())
	}
}

type failingWriter struct{ calls int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls++
	return 0, errors.New("gone")
}

// A writer that fails gets nothing more, and the result says so; the
// output is still kept.
func TestOutputSinkFailedWriter(t *testing.T) {
	w := &failingWriter{}
	o := newOutputSink(100, w)
	o.Write([]byte("first"))
	time.Sleep(10 * time.Millisecond)
	o.Write([]byte("second"))
	o.closeInput()
	<-o.flushed
	kept, _, failed := o.result()
	if string(kept) != "firstsecond" || !failed || w.calls != 1 {
		t.Fatalf("kept %q failed %v calls %d", kept, failed, w.calls)
	}
}

// Abandoning a stuck writer releases a Write waiting for queue room at
// once, and marks the writer failed; abandoning one that has taken
// everything does not.
func TestOutputSinkAbandon(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := writerFunc(func(p []byte) (int, error) { <-release; return len(p), nil })
	o := newOutputSink(1, stuck)
	o.Write([]byte("x"))                                    // taken by the forwarder, which blocks in the writer
	o.Write([]byte(strings.Repeat("x", maxQueuedOutput-1))) // fills the queue
	done := make(chan struct{})
	go func() { o.Write([]byte("more")); close(done) }() // waits for room
	select {
	case <-done:
		t.Fatal("a Write past the queue bound did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	o.abandon()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("abandon did not release the waiting Write")
	}
	if _, _, failed := o.result(); !failed {
		t.Fatal("an abandoned writer is not marked failed")
	}

	var all bytes.Buffer
	ok := newOutputSink(10, &all)
	ok.Write([]byte("done"))
	ok.closeInput()
	<-ok.flushed
	ok.abandon()
	if _, _, failed := ok.result(); failed || all.String() != "done" {
		t.Fatalf("a writer that took everything: failed %v, got %q", failed, all.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
