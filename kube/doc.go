// Package kube is a [sandbox.Backend] that runs each session in its own
// Kubernetes pod.
//
// Provision creates a NetworkPolicy and then a Pod (or, in
// [ModeAgentSandbox], an agents.x-k8s.io/v1alpha1 Sandbox whose controller
// creates the Pod) from [Config], and waits until the pod can run
// commands. Exec runs each command through the pods/exec subresource, over
// WebSocket with a fallback to SPDY only when the WebSocket upgrade itself
// fails, so a command is never run twice. Terminate deletes everything the
// session created and waits for it to go.
//
// # What the pod looks like
//
// Unless the configuration overrides it, the pod runs as a non-root user
// with no privilege escalation, every capability dropped, the runtime's
// default seccomp profile, a read-only root filesystem and no
// service-account token. The workdir, /tmp, /mnt/session/outputs and
// /mnt/memory are emptyDir volumes; caller mounts become volumes named by
// [Config.Volumes] or [Config.VolumeFor]. Limits become container requests
// and limits (memory, CPU) and shell ulimits inside the pod (CPU time, open
// files); the limits Kubernetes cannot apply per pod (processes, file size)
// are refused under [sandbox.OSHardened].
//
// # Commands
//
// The pods/exec API takes an argv and nothing else: the backend runs
// Config.Shell with a script that changes to the request's directory,
// exports its environment and runs the command under the image's timeout
// program. Every word is quoted with [sandbox.ShellQuote]; nothing from the
// request is ever interpolated into the script. The timeout is enforced
// twice: by timeout(1) inside the pod (closing a stream does not reliably
// kill a process in a container) and by the stream's own deadline. A stream
// that ends before its command (a cancelled context) is followed by a
// second exec that kills the command's processes, found by the
// SANDBOX_EXEC_ID their environment carries.
//
// # What is left to the cluster
//
// NetworkPolicy objects are only enforced by a CNI that implements them:
// [Config.NetworkPolicyEnforced] says whether this cluster's does, since the
// backend cannot tell, and without it a limited network policy is refused
// under OSHardened. Isolation between pods and the node is the container
// runtime's ([Config.RuntimeClassName] selects gVisor or Kata where the
// cluster offers them). [Backend.Capabilities] reports each mechanism.
//
// # Suspension
//
// In ModeAgentSandbox, [Backend.Suspend] scales a session's Sandbox to
// zero and [Backend.Resume] (or the next Exec) back to one; with
// Limits.IdleTimeout, [Backend.SuspendIdle] (run by [Backend.RunJanitor])
// does so for sessions idle that long. A bare pod cannot be stopped and
// kept: ModePod answers ErrUnsupported.
//
// # Sessions outlive the host process
//
// Everything a session needs is kept in its objects' labels and
// annotations, so a new [Backend] with the same configuration finds the
// sessions of an earlier one by label ([Backend.Sessions]), and
// [Backend.Sweep] removes the ones the host no longer wants.
package kube
