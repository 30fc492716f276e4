//go:build !unix

package sandboxtest

import "os"

// killSignal ends a process the kit started.
var killSignal = os.Kill
