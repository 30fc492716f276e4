package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads prog as a seccomp filter on the calling OS thread, and on
// that thread only.
//
// It calls seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog): flags 0, never
// SECCOMP_FILTER_FLAG_TSYNC. Without TSYNC the kernel attaches the filter to
// the current task, i.e. the OS thread the goroutine runs on at the moment of
// the call, and to the processes that thread later creates. That is the
// point: the library confines a dedicated spawner thread and starts the child
// from it, while the host's other threads stay unconfined. So the caller must
// have called runtime.LockOSThread (and never unlock afterwards: the runtime
// would then run other goroutines on the filtered thread), and must have set
// PR_SET_NO_NEW_PRIVS on this thread, or hold CAP_SYS_ADMIN; otherwise the
// kernel refuses with EACCES.
//
// Filters stack: a second Install adds to the first, never replaces it.
func Install(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("seccomp: program length %d out of range 1..%d", len(prog), maxInsns)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// A plain Syscall (not RawSyscall): the scheduler may note the call, but
	// a locked goroutine resumes on the same thread, so the filter lands on
	// the thread the caller locked.
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		if errors.Is(errno, unix.EACCES) {
			return fmt.Errorf("seccomp: installing filter: %w (no_new_privs not set on this thread?)", errno)
		}
		return fmt.Errorf("seccomp: installing filter: %w", errno)
	}
	return nil
}
