//go:build unix

package osconfine

import (
	"os"
	"os/exec"
	"syscall"
)

// controllingTerminal makes the command's stdin its controlling terminal
// when it is one (a session leader acquires it with TIOCSCTTY, which the
// child calls between fork and exec). attr must already start a new
// session.
func controllingTerminal(cmd *exec.Cmd, attr *syscall.SysProcAttr) {
	f, ok := cmd.Stdin.(*os.File)
	if ok && isTerminal(f) {
		attr.Setctty, attr.Ctty = true, 0
	}
}
