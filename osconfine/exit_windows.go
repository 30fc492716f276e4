//go:build windows

package osconfine

import "os"

// ExitSignal reports no signal: Windows processes end with an exit code.
// A process the job killed on its limits is reported by the adapter.
func ExitSignal(st *os.ProcessState) (signal, limit string) { return "", "" }
