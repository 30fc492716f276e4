package osconfine

import "errors"

// ErrLimitRange reports a limit larger than this host can hold; the
// wrapping error names the limit and the host's ceiling.
var ErrLimitRange = errors.New("osconfine: limit out of range for this host")
