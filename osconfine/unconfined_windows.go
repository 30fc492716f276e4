//go:build windows

package osconfine

import "os/exec"

// startUnconfined starts cmd in a Job Object without limits, so that Kill
// and the command's exit end every process it started.
func startUnconfined(cmd *exec.Cmd) (*Child, error) {
	p, _ := prepare(Policy{}) // never fails on Windows
	return p.Start(cmd)
}

func unrestrictedTreeSupport() Mechanism {
	return enforcedBy("Job Object (kill on job close)")
}
