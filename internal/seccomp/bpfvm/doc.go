// Package bpfvm runs classic BPF seccomp programs in Go, for tests: it gives
// the 32-bit value a program returns for one struct seccomp_data, and checks
// a program the way the kernel's loader does (seccomp_check_filter and
// bpf_check_classic), so that a program it accepts is one the kernel would
// accept too. Any opcode seccomp does not allow is an error, never guessed.
package bpfvm
