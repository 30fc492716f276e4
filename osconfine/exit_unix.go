//go:build unix

package osconfine

import (
	"os"
	"syscall"
)

// ExitSignal returns the name of the signal that ended a process ("" if it
// exited), and the limit that signal stands for: "cpu_time" for SIGXCPU,
// "file_size" for SIGXFSZ, "" otherwise.
func ExitSignal(st *os.ProcessState) (signal, limit string) {
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
