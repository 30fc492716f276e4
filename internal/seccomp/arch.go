package seccomp

import "fmt"

// absent marks a syscall name known to the package that the architecture
// does not have (for example mknod or iopl on arm64). Rules for it are
// skipped on that architecture; a name in no table at all is an error, so a
// typo cannot silently drop a rule.
const absent = -1

// archInfo is what the compilers need to know about one architecture.
type archInfo struct {
	goarch string
	audit  uint32 // AUDIT_ARCH_* value of seccomp_data.arch for the native ABI
	// x32Bit is the bit that marks an x32 syscall number on amd64 (the
	// same arch value as native amd64 calls); 0 elsewhere.
	x32Bit uint32
	nums   map[string]int
}

// The tables cover both supported architectures in every build (the files
// are named after the kernel's arch names, not GOARCH, so they carry no build
// constraint): a program for either can be compiled and checked in the BPF
// interpreter on any host.
func lookupArch(goarch string) (*archInfo, error) {
	switch goarch {
	case "amd64":
		return &archAMD64, nil
	case "arm64":
		return &archARM64, nil
	}
	return nil, fmt.Errorf("seccomp: architecture %q not supported (only amd64 and arm64)", goarch)
}

// SyscallNumber is the number of syscall name on architecture goarch
// ("amd64" or "arm64"); ok is false when the architecture has no such
// syscall or the package does not know the name.
func SyscallNumber(goarch, name string) (nr int, ok bool) {
	a, err := lookupArch(goarch)
	if err != nil {
		return 0, false
	}
	nr, known := a.nums[name]
	if !known || nr == absent {
		return 0, false
	}
	return nr, true
}
