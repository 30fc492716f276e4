package osconfine

// ViewMount is one directory (or file) of the host that a session's view
// shows at a guest path.
type ViewMount struct {
	// Source is an absolute host path with symlinks resolved.
	Source string `json:"source"`
	// Target is the absolute, clean guest path it appears at.
	Target string `json:"target"`
	// ReadOnly mounts it read-only (recursively).
	ReadOnly bool `json:"read_only,omitempty"`
}
