//go:build windows

package osconfine

import "os"

// exitSignal reports no signal: Windows processes end with an exit code.
// A process the job killed on its limits is reported by the adapter.
func exitSignal(st *os.ProcessState) (signal, limit string) { return "", "" }
