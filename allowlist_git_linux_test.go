package sandbox

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// git over HTTPS through the filtering proxy: a clone from an allowed host
// (a CONNECT tunnel to a local smart-HTTP server, its certificate checked
// against the test CA) lands in the workdir; the same clone from a host off
// the list is refused and never reaches the server.
func TestAllowListGitOverHTTPS(t *testing.T) {
	l, _, _ := allowListBackend(t)
	if !l.Capabilities().Enforcement.NetworkAllowList.Enforced {
		t.Skip("per-host allow-lists are not enforced on this host; TestAllowListThroughProxy checks that they are refused")
	}
	requireCommand(t, "git")
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}

	// A bare repository with one commit, served by git http-backend.
	repos := t.TempDir()
	src := t.TempDir()
	gitRun := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(gitPath, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	require := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	require(os.WriteFile(filepath.Join(src, "README"), []byte("cloned through the proxy\n"), 0o644))
	gitRun(src, "init", "-q", "-b", "main")
	gitRun(src, "add", "README")
	gitRun(src, "commit", "-q", "-m", "first")
	gitRun(repos, "clone", "-q", "--bare", src, "repo.git")

	var hits atomic.Int32
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	sess := provision(t, l, Spec{NetworkPolicy: AllowHosts(fmt.Sprintf("example.com:%d", port), fmt.Sprintf("127.0.0.1:%d", port))})
	ca := filepath.Join(sess.Workdir, "ca.pem")
	require(os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	ca = guestPath(t, sess, ca)

	clone := `git -c http.sslCAInfo="$1" clone -q "$2" "$3" 2>&1 && cat "$3/README" || echo "FAILED"`
	res := run(t, l, sess.ID, sh(clone, ca, fmt.Sprintf("https://example.com:%d/repo.git", port), "clone"))
	if !strings.Contains(string(res.Stdout), "cloned through the proxy") || hits.Load() == 0 {
		t.Fatalf("git clone from an allowed host: %q (hits %d)", res.Stdout, hits.Load())
	}
	// The command cloned into its cwd, the workdir (Session.Workdir on the host).
	if b, err := os.ReadFile(filepath.Join(sess.Workdir, "clone", "README")); err != nil || string(b) != "cloned through the proxy\n" {
		t.Fatalf("the clone is not in the workdir on the host: %q, %v", b, err)
	}

	before := hits.Load()
	res = run(t, l, sess.ID, sh(clone, ca, fmt.Sprintf("https://denied.test:%d/repo.git", port), "denied"))
	if !strings.Contains(string(res.Stdout), "FAILED") || hits.Load() != before {
		t.Fatalf("git clone from an unlisted host: %q (hits %d -> %d)", res.Stdout, before, hits.Load())
	}
}
