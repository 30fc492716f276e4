package sandbox

import (
	"errors"
	"os"

	"github.com/go-sandbox/sandbox/osconfine"
)

// openTerminal gives the command a pseudo-terminal as stdin, stdout and
// stderr; its host end carries the output (one stream, to Stdout) and the
// caller's input.
func (r *commandRun) openTerminal() error {
	host, child, err := osconfine.OpenTerminal(r.req.Terminal.Rows, r.req.Terminal.Cols)
	if errors.Is(err, osconfine.ErrNoTerminal) {
		return &UnsupportedError{Backend: "local", Operation: "terminal", Reason: err.Error()}
	}
	if err != nil {
		return err
	}
	r.closeAfterStart = append(r.closeAfterStart, child)
	r.closeAfterWait = append(r.closeAfterWait, host)
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = child, child, child
	r.terminal = host
	r.outputs = []*os.File{host}
	r.stdinW = terminalInput{host}
	return nil
}

// terminalInput is the caller's end of a terminal's input. Close sends
// the terminal's end-of-file character (Ctrl-D) rather than closing the
// terminal, whose host end also carries the output.
type terminalInput struct{ f *os.File }

func (t terminalInput) Write(p []byte) (int, error) { return t.f.Write(p) }
func (t terminalInput) Close() error {
	_, err := t.f.Write([]byte{4})
	return err
}
