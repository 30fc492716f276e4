package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
)

// The script quotes every request word and names no request value
// outside single quotes.
func TestScriptQuotesEveryWord(t *testing.T) {
	req := sandbox.ExecRequest{Command: "printf", Args: []string{"%s", "a'b", "$(x)"}, Cwd: "d'ir", Env: map[string]string{"K": "v'$(y)"}}
	got := script(&req, "id1", 1500*time.Millisecond, sandbox.Limits{})
	for _, want := range []string{
		`cd -- 'd'\''ir' 2>/dev/null ||`,
		`exec env 'K=v'\''$(y)' SANDBOX_EXEC_ID=id1 timeout -k 1 2 printf %s 'a'\''b' '$(x)'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
}
