package sandbox

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShellQuoteRoundTrip has a real /bin/sh read each quoted word back.
func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no POSIX shell on this OS")
	}
	words := []string{"", "plain", "with space", "it's", `back\slash`, "$HOME", "`id`", "a\nb", "*", "-n", "'", `"`, "a'b'c", "tab\there", "semi;colon|pipe&amp"}
	for _, w := range words {
		out, err := exec.Command(sh, "-c", "printf %s "+ShellQuote(w)).Output()
		if err != nil {
			t.Fatalf("sh failed on %q: %v", w, err)
		}
		if string(out) != w {
			t.Errorf("ShellQuote(%q) read back as %q", w, out)
		}
	}
}

func TestShellJoinKeepsWordsApart(t *testing.T) {
	req := ExecRequest{Command: "echo", Args: []string{"a b", "c"}}
	got := req.CommandLine()
	if want := "echo 'a b' c"; got != want {
		t.Fatalf("CommandLine = %q, want %q", got, want)
	}
	if strings.Count(ShellQuote("plain"), "'") != 0 {
		t.Fatal("a safe word must not be quoted")
	}
}
