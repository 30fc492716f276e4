package netproxy

import (
	"testing"
	"time"
)

func TestInFlightWaitsForConnectionsSince(t *testing.T) {
	var f InFlight
	before := f.begin() // accepted before the window: never waited for
	since := time.Now()
	id := f.begin()
	ended := make(chan time.Time, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		ended <- time.Now()
		f.end(id)
	}()
	f.Wait(since, 10*time.Second)
	select {
	case <-ended:
	default:
		t.Fatal("Wait returned while a connection of the window was open")
	}
	// Only the older connection is open now: Wait returns at once.
	start := time.Now()
	f.Wait(since, 10*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Wait waited %v for a connection accepted before since", d)
	}
	f.end(before)
}

func TestInFlightWaitIsBounded(t *testing.T) {
	var f InFlight
	since := time.Now()
	f.begin()
	start := time.Now()
	f.Wait(since, 20*time.Millisecond)
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Wait returned before its bound with a connection open")
	}
}
