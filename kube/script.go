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
//	exec env 'K=V' ... 'SANDBOX_EXEC_ID=id' timeout -k 1 T 'command' 'arg' ...
//
// timeout(1) runs the command in a process group of its own and signals
// the whole group, so a command's background children end with it.
func script(req *sandbox.ExecRequest, execID string, timeout time.Duration, l sandbox.Limits) string {
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
	words := []string{"exec", "env"}
	keys := make([]string, 0, len(req.Env))
	for k := range req.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		words = append(words, sandbox.ShellQuote(k+"="+req.Env[k]))
	}
	// Last, so that the request cannot replace it: it marks every
	// process of this command for killScript.
	words = append(words, sandbox.ShellQuote(execIDEnv+"="+execID))
	words = append(words, "timeout", "-k", fmt.Sprint(int64(killGrace/time.Second)), fmt.Sprint(inPodTimeout(timeout)))
	words = append(words, sandbox.ShellJoin(append([]string{req.Command}, req.Args...)...))
	b.WriteString(strings.Join(words, " "))
	b.WriteString("\n")
	return b.String()
}

// execIDEnv marks the processes of one Exec in their environment, which
// their children inherit, so that they can be found and killed from a
// second exec when the first one's stream is gone.
const execIDEnv = "SANDBOX_EXEC_ID"

// killScript kills every process of the pod whose environment holds
// SANDBOX_EXEC_ID=$1, twice, for children forked during the first pass.
// All execs of a container share its PID namespace, so a second exec
// sees the first one's processes in /proc.
const killScript = `for pass in 1 2; do
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = "$$" ] && continue
		grep -q "` + execIDEnv + `=$1" "$p/environ" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
done
exit 0`
