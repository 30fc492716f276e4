//go:build linux

package osconfine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The protocol between the host and a session init (and between the init
// and its holders): one JSON message per SOCK_SEQPACKET packet, with file
// descriptors (stdio, cgroup.procs, listeners, pidfds) passed alongside as
// SCM_RIGHTS. Requests carry an ID that the reply repeats; the init also
// sends an "exit" message, unasked, when a command has ended.

// viewMsg is every message of the protocol; Op says which fields are used.
type viewMsg struct {
	Op          string      `json:"op"`
	ID          uint64      `json:"id,omitempty"`
	Err         string      `json:"err,omitempty"`
	Unsupported bool        `json:"unsupported,omitempty"` // Err wraps ErrUnsupported
	Errno       int         `json:"errno,omitempty"`       // Err wraps this errno
	Token       string      `json:"token,omitempty"`       // hello: the trigger's token
	Mode        string      `json:"mode,omitempty"`        // hello: "init" or "holder"
	Spec        *ViewSpec   `json:"spec,omitempty"`        // hello of an init
	Facts       *viewFacts  `json:"facts,omitempty"`       // hello of an init
	Policy      *wirePolicy `json:"policy,omitempty"`      // prepare
	PolicyID    uint64      `json:"policy_id,omitempty"`   // prepare, release, start
	Start       *viewStart  `json:"start,omitempty"`       // start
	Exec        uint64      `json:"exec,omitempty"`        // start, signal, kill, exit
	Signal      int         `json:"signal,omitempty"`      // signal
	Mount       *ViewMount  `json:"mount,omitempty"`       // attach
	Exit        *ExitStatus `json:"exit,omitempty"`        // exit
	Port        uint16      `json:"port,omitempty"`        // listen reply
	Pid         int         `json:"pid,omitempty"`         // start reply: the command\'s host pid
}

// viewFacts is what the host learnt about itself that the init cannot
// find out from inside its user namespace.
type viewFacts struct {
	PtraceStop bool   `json:"ptrace_stop"`
	Yama       string `json:"yama,omitempty"`
	// ExecHolders makes the init start holders as this executable even
	// where it could clone them (set by tests, through execHolders).
	ExecHolders bool `json:"exec_holders,omitempty"`
}

// wirePolicy is a Policy without what cannot travel (the namespace, which
// the init owns itself).
type wirePolicy struct {
	Paths       []PathRule  `json:"paths"`
	Network     NetworkMode `json:"network"`
	ProxyPort   uint16      `json:"proxy_port,omitempty"`
	UnixSockets []string    `json:"unix_sockets,omitempty"`
	TempDir     string      `json:"temp_dir,omitempty"`
	Limits      Limits      `json:"limits"`
}

func toWire(p Policy) *wirePolicy {
	return &wirePolicy{Paths: p.Paths, Network: p.Network, ProxyPort: p.ProxyPort,
		UnixSockets: p.UnixSockets, TempDir: p.TempDir, Limits: p.Limits}
}

func (w *wirePolicy) policy() Policy {
	return Policy{Paths: w.Paths, Network: w.Network, ProxyPort: w.ProxyPort,
		UnixSockets: w.UnixSockets, TempDir: w.TempDir, Limits: w.Limits}
}

// viewStart is a command to start; its stdin, stdout and stderr travel as
// the first three descriptors, then Cgroups cgroup.procs descriptors.
type viewStart struct {
	Path         string   `json:"path"`
	Args         []string `json:"args"`
	Env          []string `json:"env"`
	Dir          string   `json:"dir"`
	Cgroups      int      `json:"cgroups,omitempty"`
	BoundsMemory bool     `json:"bounds_memory,omitempty"`
	BoundsPids   bool     `json:"bounds_pids,omitempty"`
}

// errorMsg is the reply to a request that failed.
func errorMsg(id uint64, err error) *viewMsg {
	m := &viewMsg{Op: "error", ID: id, Err: err.Error(), Unsupported: errors.Is(err, ErrUnsupported)}
	var errno unix.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	return m
}

// asError turns a reply back into an error (nil unless it is one).
func (m *viewMsg) asError() error {
	if m.Op != "error" {
		return nil
	}
	if m.Unsupported {
		return fmt.Errorf("%w: %s", ErrUnsupported, m.Err)
	}
	if m.Errno != 0 {
		return &viewError{msg: m.Err, errno: unix.Errno(m.Errno)}
	}
	return errors.New(m.Err)
}

// viewError is an error of the other end that carried an errno, so that
// errors.Is works on it here too (fs.ErrNotExist, ETXTBSY).
type viewError struct {
	msg   string
	errno unix.Errno
}

func (e *viewError) Error() string { return e.msg }
func (e *viewError) Unwrap() error { return e.errno }

// maxViewMsg bounds a message; the socket's buffers are raised to hold it.
const maxViewMsg = 1 << 20

// maxViewFDs bounds the descriptors one message carries.
const maxViewFDs = 8

// viewConn is one end of the protocol's socket.
type viewConn struct {
	c   *net.UnixConn
	wmu sync.Mutex
	// buf and oob are recv's, reused: each connection has one reader.
	buf, oob []byte
}

// newViewConn wraps a SOCK_SEQPACKET socket descriptor; it takes fd over.
func newViewConn(fd int) (*viewConn, error) {
	// Raise the buffers so a long command line fits in one packet; the
	// kernel caps them at its maximum, and a larger message then fails to
	// send with a clear error.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, maxViewMsg)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, maxViewMsg)
	f := os.NewFile(uintptr(fd), "view-socket")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("osconfine: the view socket is not a unix socket")
	}
	return &viewConn{c: uc}, nil
}

// send writes m with fds attached; it does not close them.
func (c *viewConn) send(m *viewMsg, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, _, err := c.c.WriteMsgUnix(b, oob, nil); err != nil {
		if errors.Is(err, unix.EMSGSIZE) {
			return fmt.Errorf("osconfine: message to the session init too long (%d bytes): %w", len(b), err)
		}
		return err
	}
	return nil
}

// recv reads one message and the descriptors that came with it (as
// close-on-exec files the caller owns). Only one goroutine may call it.
func (c *viewConn) recv() (*viewMsg, []*os.File, error) {
	if c.buf == nil {
		c.buf, c.oob = make([]byte, maxViewMsg), make([]byte, unix.CmsgSpace(maxViewFDs*4))
	}
	buf, oob := c.buf, c.oob
	n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	files, ferr := rightsOf(oob[:oobn])
	if n == 0 {
		closeFiles(files)
		return nil, nil, errEOF
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeFiles(files)
		return nil, nil, errors.New("osconfine: truncated message from the session's view")
	}
	if ferr != nil {
		closeFiles(files)
		return nil, nil, ferr
	}
	m := new(viewMsg)
	if err := json.Unmarshal(buf[:n], m); err != nil {
		closeFiles(files)
		return nil, nil, fmt.Errorf("osconfine: malformed message from the session's view: %w", err)
	}
	return m, files, nil
}

func (c *viewConn) close() error { return c.c.Close() }

var errEOF = errors.New("osconfine: the other end of the view socket is gone")

// rightsOf returns the descriptors of the SCM_RIGHTS messages in oob.
func rightsOf(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "view-fd"))
		}
	}
	return files, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
