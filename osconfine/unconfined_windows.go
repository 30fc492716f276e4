//go:build windows

package osconfine

import (
	"os/exec"
	"runtime"
)

// StartUnconfined starts cmd without confinement, for the Unrestricted
// profile, but still in a Job Object without limits, so that Kill and the
// command's exit end every process it started.
func StartUnconfined(cmd *exec.Cmd) (*Child, error) {
	p := &Prepared{limits: computeJobLimits(Limits{}, runtime.NumCPU())}
	return p.Start(cmd)
}

func unrestrictedTreeSupport() Mechanism {
	return enforcedBy("Job Object (kill on job close)")
}
