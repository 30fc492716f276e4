//go:build linux

package osconfine

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// dropAllCapabilities empties the permitted, effective and inheritable
// capability sets of every thread of the process. Capabilities belong to
// threads, so psx runs capset on each (unix.Capset would change only the
// calling one). The pointers stay valid: psx waits for every thread.
func dropAllCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	_, _, errno := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return fmt.Errorf("osconfine: dropping capabilities: %w", errno)
	}
	return nil
}
