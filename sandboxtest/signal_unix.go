//go:build unix

package sandboxtest

import "syscall"

// killSignal ends a process the kit started.
var killSignal = syscall.SIGKILL
