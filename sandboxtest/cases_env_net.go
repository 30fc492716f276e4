package sandboxtest

// The environment and network cases.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
)

func undeclaredEnv(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	// A variable of this run's own (Run may be called in parallel): set
	// in the host process, never named in a request.
	tok := token()
	name := "SANDBOXTEST_HOST_" + strings.ToUpper(tok)
	if err := os.Setenv(name, tok); err != nil {
		return notApplicable("setting %s: %v", name, err)
	}
	defer os.Unsetenv(name)
	r, err := k.sh(ctx, s.ID, `env 2>/dev/null || export -p`)
	if r == nil || len(r.Stdout) == 0 {
		return overRefused("the environment could not be listed; %s", describe(r, err))
	}
	if strings.Contains(output(r), tok) {
		return escaped("the host variable %s reached the command", name)
	}
	return conforms("the host variable %s was withheld (%d variables seen)", name, strings.Count(string(r.Stdout), "\n"))
}

func declaredEnv(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	tok := token()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Env: map[string]string{"SANDBOXTEST_DECLARED": tok}}, `printf %s "$SANDBOXTEST_DECLARED"`)
	if r != nil && string(r.Stdout) == tok {
		return conforms("the declared variable SANDBOXTEST_DECLARED was delivered")
	}
	return overRefused("the declared variable SANDBOXTEST_DECLARED was not delivered; %s", describe(r, err))
}

// tcpClient dials $1:$2 and prints what the server sends, with the first
// TCP client the session has.
const tcpClient = `h=$1 p=$2
if command -v bash >/dev/null 2>&1; then
	exec bash -c 'exec 3<>"/dev/tcp/$0/$1" && cat <&3' "$h" "$p"
elif command -v python3 >/dev/null 2>&1; then
	exec python3 -c 'import socket,sys; s=socket.create_connection((sys.argv[1],int(sys.argv[2])),5); sys.stdout.write(s.recv(200).decode())' "$h" "$p"
elif command -v perl >/dev/null 2>&1; then
	exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(PeerAddr=>$ARGV[0],PeerPort=>$ARGV[1],Timeout=>5) or die "connect: $!\n"; print <$s>' "$h" "$p"
elif command -v curl >/dev/null 2>&1; then
	exec curl -s -m 5 "telnet://$h:$p" </dev/null
fi
echo SANDBOXTEST_NO_TCP_CLIENT >&2
exit 127`

// dial starts a listener and lets a command of a session with policy p
// dial it. It returns whether the server accepted a connection and whether
// the command read the banner.
func (k *kit) dial(ctx context.Context, c *tcase, p sandbox.NetworkPolicy) (accepted, read bool, detail string, res *Result) {
	if k.listen == nil {
		r := notApplicable("no Listen hook (Options.Remote.Listen) to start a server the commands can reach")
		return false, false, "", &r
	}
	tok := token()
	ln, err := k.listen(ctx, tok)
	if err != nil {
		r := notApplicable("starting the kit's server: %v", err)
		return false, false, "", &r
	}
	defer ln.Close()
	s, done, err := k.provision(ctx, sandbox.Spec{NetworkPolicy: p})
	if err != nil {
		r := k.setupFailed(c, "provision with network "+string(p.Mode), err)
		return false, false, "", &r
	}
	defer done()
	host, port := ln.Address()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Timeout: 15 * time.Second}, tcpClient, host, port)
	if strings.Contains(output(r), "SANDBOXTEST_NO_TCP_CLIENT") {
		na := notApplicable("no TCP client (bash, python3, perl, curl) in the session")
		return false, false, "", &na
	}
	read = strings.Contains(output(r), tok)
	if !read {
		// A connection the command made but could not read from is
		// counted by the server a moment later.
		time.Sleep(50 * time.Millisecond)
	}
	return ln.Accepted() > 0, read, fmt.Sprintf("server %s:%s; %s", host, port, describe(r, err)), nil
}

func networkDenyAll(ctx context.Context, k *kit, c *tcase) Result {
	accepted, read, detail, res := k.dial(ctx, c, sandbox.DenyAll())
	if res != nil {
		return *res
	}
	if accepted || read {
		return escaped("under deny-all the command reached the loopback server (accepted %v, banner read %v); %s", accepted, read, detail)
	}
	return conforms("under deny-all the loopback server saw no connection; %s", detail)
}

func networkUnrestricted(ctx context.Context, k *kit, c *tcase) Result {
	accepted, read, detail, res := k.dial(ctx, c, sandbox.AllowAll())
	if res != nil {
		return *res
	}
	if accepted && read {
		return conforms("under unrestricted the command read the loopback server's banner")
	}
	return overRefused("under unrestricted the command did not reach the loopback server (accepted %v, banner read %v); %s", accepted, read, detail)
}
