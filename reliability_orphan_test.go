package sandbox

import (
	"context"
	"fmt"
	"strings"
)

// detachScript leaves a process behind that has started a session of its
// own, and a double-forked daemon, both carrying mark in their argv, then
// waits until both run and says so.
const detachScript = `rm -f "$TMPDIR/d1" "$TMPDIR/d2"
setsid sh -c 'touch "$2/d1"; sleep 300; : "$1"' sh "$1" "$TMPDIR" &
( sh -c 'touch "$2/d2"; sleep 300; : "$1"' sh "$1" "$TMPDIR" & ) &
i=0; while [ $i -lt 200 ] && ! [ -e "$TMPDIR/d1" -a -e "$TMPDIR/d2" ]; do sleep 0.05; i=$((i+1)); done
[ -e "$TMPDIR/d1" -a -e "$TMPDIR/d2" ] && echo detached`

// runOrphanHost is the helper mode "orphan-host": a host process that
// provisions sessions in the RootDir it is given, leaves work running in
// them, says "ready" and waits to be killed. arg is "<root dir> <mark>".
func runOrphanHost(arg string) int {
	root, mark, _ := strings.Cut(arg, " ")
	l, err := NewLocal(LocalConfig{RootDir: root})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ctx := context.Background()
	hardened, err := l.Provision(ctx, Spec{SessionID: "orphan-hardened", Limits: Limits{MaxProcesses: 64}})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	res, err := l.Exec(ctx, hardened.ID, sh(`echo result > "$SANDBOX_OUTPUTS_DIR/out.txt"`))
	if err != nil || res.ExitCode != 0 {
		fmt.Println("writing outputs:", res, err)
		return 1
	}
	unrestricted, err := l.Provision(ctx, Spec{SessionID: "orphan-unrestricted", Profile: Unrestricted, NetworkPolicy: AllowAll()})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	started := make(chan string, 2)
	for _, id := range []SessionID{hardened.ID, unrestricted.ID} {
		req := sh(detachScript+"\nsleep 300", mark)
		req.Stdout = lineSignal(started)
		go l.Exec(ctx, id, req)
	}
	<-started
	<-started
	// A process started with a handle, never waited for: it too must die
	// with the host.
	if _, err := l.Start(ctx, hardened.ID, sh(`sleep 300; : "$1"`, mark)); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

// lineSignal is a writer that sends what it is given on ch.
type lineSignal chan string

func (c lineSignal) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}
