package int80

// Supported reports whether Getpid can be called on this GOARCH.
const Supported = true

// Getpid is i386 getpid (number 20) through int $0x80: the pid, or -errno.
// Where the kernel has no IA32 emulation the instruction faults (SIGSEGV),
// so call it in a process that may die.
func Getpid() int32 {
	return int32(getpid80())
}

func getpid80() int64
