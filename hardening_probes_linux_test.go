package sandbox_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/go-sandbox/sandbox"
	"golang.org/x/sys/unix"
)

// Linux hardening: a hostile child, run for real under the sandbox, tries
// each door the other layers leave open. Every refusal is judged by effect
// and has an admitted sibling; where the kernel would refuse by itself, the
// same call under the Unrestricted profile shows that the refusal comes from
// the sandbox. The tests are grouped by topic in the hardening_*_linux_test.go
// files; this one holds the child side of the syscall probes.

func init() {
	sandbox.RegisterHelper("syscalls", helperSyscalls)
	sandbox.RegisterHelper("tty", helperTTY)
	sandbox.RegisterHelper("sockets", helperSockets)
	sandbox.RegisterHelper("udp", helperUDP)
	sandbox.RegisterHelper("netinfo", helperNetinfo)
	sandbox.RegisterHelper("unixconnect", helperUnixConnect)
	sandbox.RegisterHelper("euid", helperEuid)
	sandbox.RegisterHelper("open", helperOpen)
	sandbox.RegisterHelper("fsops", helperFsops)
	sandbox.RegisterHelper("host", helperHost)
}

// errName renders an error as the errno's name (EPERM), OK for nil.
func errName(err error) string {
	if err == nil {
		return "OK"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if e == 0 {
			return "OK"
		}
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// sysErr turns a raw syscall's errno into an error, closing the fd a
// successful call returned when isFD is set.
func sysErr(r uintptr, e syscall.Errno, isFD bool) error {
	if e != 0 {
		return e
	}
	if isFD {
		unix.Close(int(r))
	}
	return nil
}

type probeCall struct {
	name string
	fn   func() error
}

// runProbes runs the probes named in arg (comma-separated; "all" for every
// one) in table order and prints name=RESULT for each.
func runProbes(probes []probeCall, arg string) int {
	want := map[string]bool{}
	for _, n := range strings.Split(arg, ",") {
		want[n] = true
	}
	for _, p := range probes {
		if want["all"] || want[p.name] {
			fmt.Printf("%s=%s\n", p.name, errName(p.fn()))
		}
	}
	return 0
}

const (
	addrNoRandomize   = 0x0040000 // ADDR_NO_RANDOMIZE
	personalityQuery  = 0xffffffff
	uffdUserModeOnly  = 1   // UFFD_USER_MODE_ONLY
	sysOpenTree       = 428 // same number on every architecture
	sysFsopen         = 430
	sysFchmodat2      = 452
	keySpecProcessKey = -2 // KEY_SPEC_PROCESS_KEYRING
)

// highBits is garbage for the high half of a 64-bit syscall argument the
// kernel reads as a 32-bit int (a variable, so 32-bit builds compile).
var highBits uint64 = 0xdead_beef_0000_0000

// socketpair probes making (and closing) a socket pair of domain.
func socketpair(domain int) func() error {
	return func() error {
		fds, err := unix.Socketpair(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		return err
	}
}

// iuintptr converts a (possibly negative) int to a syscall argument.
func iuintptr(i int) uintptr { return uintptr(i) }

func helperSyscalls(arg string) int {
	cwd := iuintptr(unix.AT_FDCWD)
	dot, _ := unix.BytePtrFromString(".")
	tmpfs, _ := unix.BytePtrFromString("tmpfs")
	empty, _ := unix.BytePtrFromString("")
	swap, _ := unix.BytePtrFromString("/nonexistent-sandbox-swap")
	var victim uint64 = 42
	probes := []probeCall{
		// Admitted.
		{"getpid", func() error { _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); return sysErr(0, e, false) }},
		{"socketpair", socketpair(unix.AF_UNIX)},
		{"mkfifo", func() error {
			name := fmt.Sprintf("sbx-fifo-%d", time.Now().UnixNano())
			err := unix.Mkfifo(name, 0o600)
			if err == nil {
				if st, serr := os.Lstat(name); serr != nil || st.Mode()&os.ModeNamedPipe == 0 {
					return fmt.Errorf("mkfifo left no FIFO: %v", serr)
				}
				os.Remove(name)
			}
			return err
		}},
		{"personality_query", func() error {
			r, _, e := unix.Syscall(unix.SYS_PERSONALITY, personalityQuery, 0, 0)
			return sysErr(r, e, false)
		}},
		// Refused.
		{"io_uring_setup", func() error {
			var params [120]byte // struct io_uring_params, zeroed: a valid request
			r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
			return sysErr(r, e, true)
		}},
		{"io_uring_enter", func() error {
			r, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, iuintptr(-1), 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"ptrace_attach", func() error {
			r, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, 1, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"process_vm_readv", func() error {
			var buf [8]byte
			local := []unix.Iovec{{Base: &buf[0], Len: 8}}
			remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&victim)), Len: 8}}
			_, err := unix.ProcessVMReadv(1, local, remote, 0)
			return err
		}},
		{"bpf", func() error {
			var attr [128]byte // BPF_MAP_CREATE with a zeroed attribute
			r, _, e := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
			return sysErr(r, e, true)
		}},
		{"perf_event_open", func() error {
			attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_TASK_CLOCK,
				Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
			attr.Size = uint32(unsafe.Sizeof(attr))
			fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"userfaultfd", func() error {
			r, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
			return sysErr(r, e, true)
		}},
		{"keyctl", func() error {
			r, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, iuintptr(keySpecProcessKey), 1)
			return sysErr(r, e, false)
		}},
		{"add_key", func() error {
			_, err := unix.AddKey("user", "sandbox-test", []byte("x"), keySpecProcessKey)
			return err
		}},
		{"unshare_newuser", func() error { return unix.Unshare(unix.CLONE_NEWUSER) }},
		{"setns", func() error {
			fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				fd = 0 // any fd: the filter refuses before the kernel looks at it
			} else {
				defer unix.Close(fd)
			}
			return unix.Setns(fd, unix.CLONE_NEWNET)
		}},
		{"mount", func() error {
			os.Mkdir("sbx-mnt", 0o700)
			return unix.Mount("none", "sbx-mnt", "tmpfs", 0, "")
		}},
		{"umount2", func() error { return unix.Unmount("sbx-mnt", unix.MNT_DETACH) }},
		{"pivot_root", func() error { return unix.PivotRoot(".", ".") }},
		{"open_tree", func() error {
			r, _, e := unix.Syscall(sysOpenTree, cwd, uintptr(unsafe.Pointer(dot)), 0)
			return sysErr(r, e, true)
		}},
		{"fsopen", func() error {
			r, _, e := unix.Syscall(sysFsopen, uintptr(unsafe.Pointer(tmpfs)), 0, 0)
			return sysErr(r, e, true)
		}},
		{"open_by_handle_at", func() error {
			var h struct {
				bytes uint32
				typ   int32
				data  [128]byte
			}
			h.bytes = 8
			r, _, e := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, cwd, uintptr(unsafe.Pointer(&h)), unix.O_RDONLY)
			return sysErr(r, e, true)
		}},
		{"name_to_handle_at", func() error { _, _, err := unix.NameToHandleAt(unix.AT_FDCWD, ".", 0); return err }},
		{"personality_no_aslr", func() error {
			r, _, e := unix.Syscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0)
			return sysErr(r, e, false)
		}},
		{"kexec_load", func() error {
			r, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"init_module", func() error {
			r, _, e := unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(empty)))
			return sysErr(r, e, false)
		}},
		{"swapon", func() error {
			r, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(swap)), 0, 0)
			return sysErr(r, e, false)
		}},
		{"reboot", func() error {
			// Invalid magic numbers: the kernel itself answers EINVAL.
			r, _, e := unix.Syscall6(unix.SYS_REBOOT, 0, 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"clone3", func() error {
			// A NULL, zero-sized argument: the kernel answers EINVAL.
			r, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"clone_newuser", func() error {
			// A new user namespace needs no capability: only the filter can
			// refuse it.
			cmd := exec.Command("/bin/true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
			return cmd.Run()
		}},
		{"socket_inet", func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
	}
	return runProbes(probes, arg)
}
