package osconfine

import (
	"errors"
	"os"
	"sync"

	"github.com/creack/pty"
)

// ErrNoTerminal reports that this OS cannot give a command a terminal.
var ErrNoTerminal = errors.New("osconfine: pseudo-terminals are not supported on this OS")

// OpenTerminal opens a pseudo-terminal of the given size: host is the end
// the host process keeps (reads the output, writes the input, resizes),
// child the end to give the command as its stdin, stdout and stderr. A
// command started with a terminal as its stdin gets it as its controlling
// terminal (Start and StartUnconfined see to it). The host end is never
// given to a command, so a command cannot reach any other terminal.
func OpenTerminal(rows, cols uint16) (host, child *os.File, err error) {
	host, child, err = pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		return nil, nil, ErrNoTerminal
	}
	if err != nil {
		return nil, nil, err
	}
	if err := ResizeTerminal(host, rows, cols); err != nil {
		host.Close()
		child.Close()
		return nil, nil, err
	}
	return host, child, nil
}

// ResizeTerminal sets the size of the terminal whose host end is host; the
// kernel sends SIGWINCH to the terminal's foreground process group.
func ResizeTerminal(host *os.File, rows, cols uint16) error {
	return pty.Setsize(host, &pty.Winsize{Rows: rows, Cols: cols})
}

var (
	terminalOnce sync.Once
	terminalOK   bool
)

// TerminalSupported reports whether this host can open a pseudo-terminal
// (tried once).
func TerminalSupported() bool {
	terminalOnce.Do(func() {
		host, child, err := OpenTerminal(24, 80)
		if err == nil {
			host.Close()
			child.Close()
			terminalOK = true
		}
	})
	return terminalOK
}
