// Command run provisions a session in a Kubernetes cluster from a
// kubeconfig, runs one command in it, prints what the command wrote and
// its exit code, and terminates the session.
//
//	go run ./examples/run -kubeconfig ~/.kube/config -image busybox:1.36 -- sh -c 'id; ls -la /workspace'
//
// The cluster's CNI must enforce NetworkPolicy for the default deny-all
// network (say so with -network-policy-enforced); otherwise pass
// -unrestricted-profile to create the policy as a best effort.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/kube"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run() error {
	home, _ := os.UserHomeDir()
	kubeconfig := flag.String("kubeconfig", filepath.Join(home, ".kube", "config"), "kubeconfig of the cluster")
	namespace := flag.String("namespace", kube.DefaultNamespace, "namespace of the session's objects")
	image := flag.String("image", "busybox:1.36", "image with /bin/sh and timeout")
	runtimeClass := flag.String("runtime-class", "", "runtimeClassName (gvisor, kata), if the cluster has one")
	enforced := flag.Bool("network-policy-enforced", false, "the cluster's CNI enforces NetworkPolicy")
	unrestricted := flag.Bool("unrestricted-profile", false, "create the NetworkPolicy even if the cluster may not enforce it")
	timeout := flag.Duration("timeout", time.Minute, "the command's timeout")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 {
		argv = []string{"sh", "-c", "id; pwd; echo hello from the pod > /mnt/session/outputs/hello; cat /mnt/session/outputs/hello"}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	b, err := kube.New(kube.Config{RESTConfig: cfg, Namespace: *namespace, Image: *image,
		RuntimeClassName: *runtimeClass, NetworkPolicyEnforced: *enforced})
	if err != nil {
		return err
	}
	spec := sandbox.Spec{Labels: map[string]string{"example": "run"}}
	if *unrestricted {
		spec.Profile = sandbox.Unrestricted
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := b.Provision(ctx, spec)
	if err != nil {
		return err
	}
	defer b.Terminate(context.Background(), s.ID)
	fmt.Printf("session %s (pod in namespace %s)\n", s.ID, *namespace)

	res, err := b.Exec(ctx, s.ID, sandbox.ExecRequest{Command: argv[0], Args: argv[1:], Timeout: *timeout})
	if err != nil {
		return err
	}
	os.Stdout.Write(res.Stdout)
	os.Stderr.Write(res.Stderr)
	fmt.Printf("exit code %d, timed out %v, took %v\n", res.ExitCode, res.TimedOut, res.Duration.Round(time.Millisecond))
	return b.Terminate(ctx, s.ID)
}
