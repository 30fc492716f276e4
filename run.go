package sandbox

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// drainBound is how long a command's output is still read after it has
// exited, for descendants that hold the pipes. Under a PID namespace they
// are already dead and the pipes close at once.
const drainBound = 500 * time.Millisecond

// commandRun is one command from its start to its result: it owns the
// pipes (or the terminal), the output sinks and the deadline. Exec runs
// start and then wait; Start runs wait on a goroutine of its own and hands
// the caller a Process.
type commandRun struct {
	start   func(*exec.Cmd) (*osconfine.Child, error)
	cmd     *exec.Cmd
	req     *ExecRequest
	timeout time.Duration
	limits  Limits
	stop    <-chan struct{} // closed when the session is terminated
	// cancel ends the command like a cancelled ctx (Exec passes
	// ctx.Done()); nil for a started process, which outlives its call.
	cancel <-chan struct{}
	// openStdin keeps the command's stdin open for Process.Stdin when
	// the request gives none (Start); Exec gives /dev/null instead.
	openStdin bool

	// closeAfterStart are the child's ends of the pipes; closeAfterWait
	// are ours (as os/exec keeps them).
	closeAfterStart []io.Closer
	closeAfterWait  []io.Closer

	// Set by begin.
	child    *osconfine.Child
	began    time.Time
	stdout   *outputSink
	stderr   *outputSink
	outputs  []*os.File // what the copy goroutines read
	drained  sync.WaitGroup
	stdinW   io.WriteCloser // the caller's end of stdin (pipe or terminal); nil when fed from the request or /dev/null
	terminal *os.File       // the terminal's host end, or nil
}

// pipe makes a pipe whose child end is closed after the start and whose
// own end is closed after the wait.
func (r *commandRun) pipe(childReads bool) (own, child *os.File, err error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	if childReads {
		own, child = wr, rd
	} else {
		own, child = rd, wr
	}
	r.closeAfterStart = append(r.closeAfterStart, child)
	r.closeAfterWait = append(r.closeAfterWait, own)
	return own, child, nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// begin sets up stdio, starts the command and the goroutines that copy its
// output and feed its input. On error nothing is left open.
func (r *commandRun) begin() (err error) {
	r.stdout = newOutputSink(r.limits.MaxOutputBytes, r.req.Stdout)
	r.stderr = newOutputSink(r.limits.MaxOutputBytes, r.req.Stderr)
	defer func() {
		if err != nil {
			// A start that failed must not leave anything open or
			// the forwarders waiting.
			closeAll(r.closeAfterStart)
			closeAll(r.closeAfterWait)
			r.stdout.closeInput()
			r.stderr.closeInput()
		}
	}()
	feed := len(r.req.Stdin) > 0 || r.req.StdinReader != nil
	if r.req.Terminal != nil {
		if err := r.openTerminal(); err != nil {
			return err
		}
	} else {
		outR, outW, err := r.pipe(false)
		if err != nil {
			return err
		}
		errR, errW, err := r.pipe(false)
		if err != nil {
			return err
		}
		if feed || r.openStdin {
			inW, inR, err := r.pipe(true)
			if err != nil {
				return err
			}
			r.cmd.Stdin, r.stdinW = inR, inW
		}
		r.cmd.Stdout, r.cmd.Stderr = outW, errW
		r.outputs = []*os.File{outR, errR}
	}

	r.began = time.Now()
	child, err := r.start(r.cmd)
	// The child holds its own copies now; ours must go, or EOF never comes.
	closeAll(r.closeAfterStart)
	r.closeAfterStart = nil
	if err != nil {
		return err
	}
	r.child = child
	sinks := []*outputSink{r.stdout, r.stderr}
	r.drained.Add(len(r.outputs))
	for i, f := range r.outputs {
		go func() { defer r.drained.Done(); copyPooled(sinks[i], f) }()
	}
	if feed {
		w := r.stdinW
		r.stdinW = nil // the request feeds it; the caller has no end
		go feedStdin(w, r.req)
	}
	return nil
}

// wait waits for the command, kills its tree on the timeout, cancel or
// Terminate, collects the output and returns the result.
func (r *commandRun) wait() *ExecResult {
	defer func() { closeAll(r.closeAfterWait) }()
	child := r.child
	res := &ExecResult{}
	deadline := time.NewTimer(r.timeout - time.Since(r.began))
	defer deadline.Stop()
	select {
	case <-child.Done():
		// Terminate closes stop before it kills the command; when both
		// are ready by the time this select runs, it may pick either.
		// A command killed by a signal in a terminating session was
		// killed by Terminate.
		select {
		case <-r.stop:
			if child.Exit().Signal != "" {
				res.Reason = ReasonTerminated
			}
		default:
		}
	case <-deadline.C:
		res.TimedOut, res.Reason = true, ReasonWallTime
		child.Kill()
	case <-r.cancel:
		res.TimedOut, res.Reason = true, ReasonCancelled
		child.Kill()
	case <-r.stop:
		res.Reason = ReasonTerminated
		child.Kill()
	}
	child.Wait() // its error is the exit status, read from ProcessState below
	res.Duration = time.Since(r.began)

	sinks := []*outputSink{r.stdout, r.stderr}
	giveUp, stopWatch := r.watchGiveUp(deadline.C, res.Reason != ReasonExited)
	defer close(stopWatch)
	r.drain(giveUp, sinks, r.outputs...)
	r.flush(giveUp, sinks)
	res.Stdout, res.StdoutTruncated, res.StdoutWriterFailed = r.stdout.result()
	res.Stderr, res.StderrTruncated, res.StderrWriterFailed = r.stderr.result()
	r.describeEnd(res, child)
	return res
}

// feedStdin writes the request's stdin and then its reader to w, and
// closes w (EOF for the command).
func feedStdin(w io.WriteCloser, req *ExecRequest) {
	defer w.Close()
	if _, err := w.Write(req.Stdin); err != nil {
		return
	}
	if req.StdinReader != nil {
		io.Copy(w, req.StdinReader)
	}
}

// flushGrace is how long a killed command's output is still handed to the
// caller's writers: its deadline has passed already.
const flushGrace = 100 * time.Millisecond

// watchGiveUp returns a channel closed when Exec stops waiting for output
// and writers: at the command's deadline, a cancelled ctx or Terminate,
// or, for a command the library killed, flushGrace from now. Closing
// stopWatch ends the watch.
func (r *commandRun) watchGiveUp(deadline <-chan time.Time, killed bool) (giveUp, stopWatch chan struct{}) {
	giveUp, stopWatch = make(chan struct{}), make(chan struct{})
	go func() {
		if killed {
			grace := time.NewTimer(flushGrace)
			defer grace.Stop()
			select {
			case <-grace.C:
			case <-stopWatch:
				return
			}
		} else {
			select {
			case <-deadline:
			case <-r.cancel:
			case <-r.stop:
			case <-stopWatch:
				return
			}
		}
		close(giveUp)
	}()
	return giveUp, stopWatch
}

// drain waits for the output pipes to reach EOF. A descendant the kill
// could not reach may hold them: drainBound after the command's exit they
// are closed. A reader held up by a slow writer is waited for until
// giveUp, and then the writers are abandoned.
func (r *commandRun) drain(giveUp <-chan struct{}, sinks []*outputSink, pipes ...*os.File) {
	done := make(chan struct{})
	go func() { r.drained.Wait(); close(done) }()
	bound := time.NewTimer(drainBound)
	defer bound.Stop()
	closePipes := func() {
		for _, p := range pipes {
			p.Close()
		}
	}
	select {
	case <-done:
		return
	case <-bound.C:
		closePipes()
		select {
		case <-done:
			return
		case <-giveUp:
		}
	case <-giveUp:
		closePipes()
	}
	for _, s := range sinks {
		s.abandon()
	}
	<-done
}

// flush waits until the caller's writers have taken all the output, or
// until giveUp; writers still busy then are abandoned (marked failed).
func (r *commandRun) flush(giveUp <-chan struct{}, sinks []*outputSink) {
	for _, s := range sinks {
		s.closeInput()
	}
wait:
	for _, s := range sinks {
		select {
		case <-s.flushed:
		case <-giveUp:
			break wait
		}
	}
	for _, s := range sinks {
		s.abandon()
	}
}

// describeEnd fills the exit code, the signal and the reason.
func (r *commandRun) describeEnd(res *ExecResult, child *osconfine.Child) {
	st := child.Exit()
	res.ExitCode = st.Code
	sig, limit := st.Signal, st.Limit
	if sig == "" {
		if res.Reason == ReasonExited && r.limits.MaxFileSizeMB > 0 && res.ExitCode == shellExitXFSZ {
			// A shell whose child was killed by SIGXFSZ exits 128+SIGXFSZ.
			res.Reason = ReasonFileSize
		}
		return
	}
	res.Signal = sig
	switch {
	case res.Reason != ReasonExited:
		// The library killed it, and said why.
	case limit != "":
		res.Reason = Reason(limit)
	case child.MemoryLimitHit():
		res.Reason = ReasonMemory
	case sig == "killed" && r.limits.CPUTime > 0 && st.CPU >= r.limits.CPUTime/2:
		// Nothing of the library killed it and no memory cgroup counted
		// an OOM kill. The command is init of its PID namespace, which
		// nothing inside can SIGKILL and which ignores SIGXCPU, so the
		// kernel's SIGKILL at the hard CPU limit is what is left. The
		// floor only rules out a kill from outside the sandbox early in
		// the run; it is far below the limit, since rusage lags the
		// scheduler's accounting under load.
		res.Reason = ReasonCPUTime
	}
}

// shellExitXFSZ is the status a POSIX shell exits with when its last child
// was killed by SIGXFSZ (128 + 25 on Linux and the BSDs).
const shellExitXFSZ = 128 + 25
