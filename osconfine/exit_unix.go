//go:build unix

package osconfine

import (
	"os"
	"syscall"
)

// exitSignal reads the signal from the wait status.
func exitSignal(st *os.ProcessState) (signal, limit string) {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return "", ""
	}
	sig := ws.Signal()
	switch sig {
	case syscall.SIGXCPU:
		limit = "cpu_time"
	case syscall.SIGXFSZ:
		limit = "file_size"
	}
	return sig.String(), limit
}
