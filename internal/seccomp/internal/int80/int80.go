// Package int80 issues an i386 syscall from a 64-bit process (int $0x80),
// for the tests that check the filter refuses the foreign ABI. amd64 only.
package int80
