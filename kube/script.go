package kube

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
)

// The script's own failures: it prints scriptMarker and a reason on stderr
// and exits scriptExit, before the command starts.
const (
	scriptMarker = "sandbox-kube: "
	scriptExit   = 125
)

// killGrace is how long timeout(1) waits after SIGTERM before SIGKILL.
const killGrace = time.Second

// inPodTimeout is the timeout given to timeout(1): whole seconds, rounded
// up, since busybox's timeout takes no fractions.
func inPodTimeout(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// script is the shell program that runs one request inside the pod. Every
// value from the request is a single-quoted word (sandbox.ShellQuote): the
// shell parses the script's own words and nothing of the request.
//
//	command -v timeout ... || fail              # the in-pod timeout is required
//	cd 'dir' || fail                            # only when Cwd is set
//	ulimit -t N || fail; ulimit -n N || fail    # only when the limits are set
//	exec env 'K=V' ... timeout -k 1 T 'command' 'arg' ...
//
// timeout(1) runs the command in a process group of its own and signals
// the whole group, so a command's background children end with it.
func script(req *sandbox.ExecRequest, timeout time.Duration, l sandbox.Limits) string {
	fail := func(what string) string {
		return " || { echo " + sandbox.ShellQuote(scriptMarker+what) + " >&2; exit " + fmt.Sprint(scriptExit) + "; }\n"
	}
	var b strings.Builder
	b.WriteString("command -v timeout >/dev/null 2>&1" + fail("the image has no timeout program, which the backend needs to end commands inside the pod"))
	if req.Cwd != "" {
		// The shell's own message would come before the marker.
		b.WriteString("cd -- " + sandbox.ShellQuote(req.Cwd) + " 2>/dev/null" + fail("cannot change to directory "+req.Cwd))
	}
	if l.CPUTime > 0 {
		secs := inPodTimeout(l.CPUTime)
		b.WriteString(fmt.Sprintf("ulimit -t %d 2>/dev/null", secs) + fail("the shell cannot set the CPU time limit (ulimit -t)"))
	}
	if l.MaxOpenFiles > 0 {
		b.WriteString(fmt.Sprintf("ulimit -n %d 2>/dev/null", l.MaxOpenFiles) + fail("the shell cannot set the open files limit (ulimit -n)"))
	}
	words := []string{"exec"}
	if len(req.Env) > 0 {
		words = append(words, "env")
		keys := make([]string, 0, len(req.Env))
		for k := range req.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			words = append(words, sandbox.ShellQuote(k+"="+req.Env[k]))
		}
	}
	words = append(words, "timeout", "-k", fmt.Sprint(int64(killGrace/time.Second)), fmt.Sprint(inPodTimeout(timeout)))
	words = append(words, sandbox.ShellJoin(append([]string{req.Command}, req.Args...)...))
	b.WriteString(strings.Join(words, " "))
	b.WriteString("\n")
	return b.String()
}
