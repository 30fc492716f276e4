// Package seccomp builds the sandbox's seccomp filter and installs it on one
// OS thread.
//
// The filter is written once, as data ([Rule], built by [Rules]), and turned
// into classic BPF by [Compile], a pure-Go compiler (no cgo, so the default
// build and CGO_ENABLED=0 both have it). Under the build tag libseccomp,
// CompileLibseccomp builds the same rules with libseccomp; tests run both
// programs in the interpreter of package bpfvm and require the same decision
// for every input.
//
// Design, and why:
//
//   - Errno only, never kill. The filter is installed on the spawner thread
//     (see [Install]) and so also governs the Go runtime running on that
//     thread and the child between fork and exec. A kill action there would
//     take down the host process or leave the runtime wedged; a refused
//     syscall with an errno is something the runtime, libc and tools already
//     handle. Compile rejects every action but allow and errno.
//   - A deny list. Anything not named is allowed: the other layers (Landlock,
//     namespaces, dropped capabilities) carry the general policy; the filter
//     closes syscalls that escape those layers or widen the kernel's attack
//     surface (io_uring, ptrace, bpf, the mount API, ...).
//   - The architecture is checked first. seccomp_data.nr only means something
//     together with seccomp_data.arch: an amd64 process can enter the kernel
//     through int $0x80 with i386 numbers (where 11 is execve, not munmap),
//     and x32 numbers are the amd64 ones with bit 30 set. Both would walk
//     past a filter that only looks at nr, so a foreign arch and (on amd64)
//     any nr with the x32 bit set get EPERM before anything else is read.
//     The one exception is nr -1, which is no syscall but what a tracer
//     sets to skip one: it passes, as libseccomp lets it pass, so that the
//     filter does not overwrite the tracer's chosen return value.
//   - clone3 gets ENOSYS, not EPERM. Its flags live in a struct in user
//     memory, which seccomp cannot read, so namespace flags cannot be checked
//     there. ENOSYS is what glibc and musl take as "kernel too old" and fall
//     back to clone, whose flags the filter can check. (Go's own fork uses
//     clone3 only for SysProcAttr.UseCgroupFD and for CLONE_NEWTIME, and has
//     no fallback: those two cannot be used from a filtered thread.)
//   - Arguments are compared at the width the kernel reads them: ioctl
//     requests, socket domains, personality and mknod modes are 32-bit (or
//     narrower) in the kernel, so they are compared on the low 32 bits and
//     a caller cannot dodge a rule by setting the high bits; ptrace's request
//     is a long, so PTRACE_TRACEME and PTRACE_DETACH are matched on all 64.
//   - Installed on the calling thread only, never with TSYNC. The library
//     confines one dedicated, locked OS thread and starts the child from it;
//     the child inherits the filter, the rest of the host process does not.
package seccomp
