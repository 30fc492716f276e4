//go:build !amd64

package int80

// Supported reports whether Getpid can be called on this GOARCH.
const Supported = false

// Getpid is only available on amd64.
func Getpid() int32 { panic("int80: amd64 only") }
