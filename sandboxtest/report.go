package sandboxtest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Verdict is what the kit concluded about one case.
type Verdict string

const (
	// Conforms: the backend refused what the case must refuse, or admitted
	// what it must admit, and reported what it must report; judged by the
	// effect.
	Conforms Verdict = "conforms"
	// Escaped: the backend let through what the case must stop (a sentinel
	// was read, a file appeared, a server was reached, a process survived),
	// or did not report what it must (TimedOut, truncation,
	// ErrSessionNotFound).
	Escaped Verdict = "escaped"
	// OverRefused: the backend refused what the case must admit (the
	// admitted sibling of a refusal, or a valid request).
	OverRefused Verdict = "over-refused"
	// NotMeasured: the backend says it cannot enforce what the case
	// checks (its Capabilities, or an ErrUnsupported answer). Never a pass;
	// Detail says why.
	NotMeasured Verdict = "not measured"
	// NotApplicable: the case cannot be run against this backend with the
	// given Options (no way to plant files where the commands run, no TCP
	// client in the session, the case was skipped).
	NotApplicable Verdict = "not applicable"
)

// Failed reports whether v fails a test: Escaped or OverRefused.
func (v Verdict) Failed() bool { return v == Escaped || v == OverRefused }

// Result is the verdict on one case.
type Result struct {
	// Case is the case's name, for example "outside_read_refused".
	Case    string  `json:"case"`
	Verdict Verdict `json:"verdict"`
	// Detail says what was observed (or why nothing was).
	Detail string `json:"detail"`
}

// Report is the outcome of a run of the kit: one Result per case, in the
// kit's order.
type Report struct {
	Backend string `json:"backend"`
	// Notes record choices the kit made for the whole run (for example
	// that the backend refused deny-all network, so the other cases ran
	// with an unrestricted network).
	Notes   []string `json:"notes,omitempty"`
	Results []Result `json:"results"`
}

// Count returns how many results have verdict v.
func (r Report) Count(v Verdict) int {
	n := 0
	for _, res := range r.Results {
		if res.Verdict == v {
			n++
		}
	}
	return n
}

// Failed reports whether any case escaped or was over-refused.
func (r Report) Failed() bool { return r.Count(Escaped) > 0 || r.Count(OverRefused) > 0 }

// Result returns the result of the named case.
func (r Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Case == name {
			return res, true
		}
	}
	return Result{}, false
}

// WriteTo renders the report as a table, one line per case, followed by a
// summary line.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of backend %q\n", r.Backend)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tVERDICT\tDETAIL")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", res.Case, res.Verdict, oneLine(res.Detail))
	}
	tw.Flush()
	fmt.Fprintf(&b, "%d conform, %d escaped, %d over-refused, %d not measured, %d not applicable\n",
		r.Count(Conforms), r.Count(Escaped), r.Count(OverRefused), r.Count(NotMeasured), r.Count(NotApplicable))
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// String is the table WriteTo writes.
func (r Report) String() string {
	var b strings.Builder
	r.WriteTo(&b)
	return b.String()
}

// oneLine keeps a detail on one table row.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " | ")
}
