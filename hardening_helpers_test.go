package sandbox

import (
	"fmt"
	"os"
	"runtime"
)

// hardeningModes are the helper modes of hardening_test.go, which is
// Linux-only: its init registers them here, so that runHelper (which builds
// on every OS) can dispatch to them.
var hardeningModes = map[string]func(arg string) int{}

// runHardeningHelper runs a helper mode registered by hardening_test.go.
func runHardeningHelper(mode, arg string) int {
	if f := hardeningModes[mode]; f != nil {
		return f(arg)
	}
	fmt.Fprintf(os.Stderr, "helper mode %q is not available on %s\n", mode, runtime.GOOS)
	return 2
}
