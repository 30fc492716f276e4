package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/go-sandbox/sandbox"
)

// Label and annotation keys the backend puts on every object it creates.
const (
	// LabelManagedBy is "go-sandbox" on every object of every session.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "go-sandbox"
	// LabelSession selects a session's objects: its value is derived from
	// the session id (see sessionLabel), since ids may be longer than a
	// label value can be.
	LabelSession = "sandbox.go-sandbox.dev/session"
	// LabelOwner is Config.Owner: the host that created the session.
	LabelOwner = "sandbox.go-sandbox.dev/owner"
	// AnnotationSession holds the session's description as JSON (id,
	// labels, mounts, network policy, limits, profile, creation time), so
	// that another process can pick the session up.
	AnnotationSession = "sandbox.go-sandbox.dev/session"
	// containerName is the one container of a session's pod.
	containerName = "sandbox"
)

var labelValuePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$`)

func validLabelValue(v string) bool { return labelValuePattern.MatchString(v) }

// labelSafe turns s into a valid label value (used for host names).
func labelSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	s = strings.Trim(string(b), "-_.")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-_.")
	}
	if s == "" {
		s = "host"
	}
	return s
}

// digest is a short, stable hash of a session id.
func digest(id sandbox.SessionID) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])[:16]
}

// sessionLabel is the value of LabelSession: a hash of the id, because a
// session id may be up to 128 bytes and a label value only 63, and two ids
// differing only in case must not select each other's objects.
func sessionLabel(id sandbox.SessionID) string { return digest(id) }

// objectName names a session's objects: a readable prefix of the id made
// DNS-safe, then the hash, so that distinct ids never share a name.
func objectName(id sandbox.SessionID) string {
	var b strings.Builder
	for _, c := range strings.ToLower(string(id)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	prefix := strings.Trim(b.String(), "-")
	if len(prefix) > 30 {
		prefix = strings.Trim(prefix[:30], "-")
	}
	if prefix == "" {
		return "sandbox-" + digest(id)
	}
	return "sandbox-" + prefix + "-" + digest(id)
}
