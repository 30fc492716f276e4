package sandbox

import "strings"

// ShellQuote returns s quoted for a POSIX shell, so that the shell reads it
// back as exactly one word equal to s. Backends that take one command line
// (hosted sandboxes) use it to pass an ExecRequest through a shell.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	// Inside single quotes nothing is special but the quote itself, which
	// is closed, escaped, and reopened.
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes each word and joins them with spaces.
func ShellJoin(words ...string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = ShellQuote(w)
	}
	return strings.Join(quoted, " ")
}

// CommandLine renders a request's command and arguments as one POSIX shell
// command line.
func (r *ExecRequest) CommandLine() string {
	return ShellJoin(append([]string{r.Command}, r.Args...)...)
}
