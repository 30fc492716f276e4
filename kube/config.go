package kube

import (
	"errors"
	"os"
	"time"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Mode selects which object a session is made of.
type Mode string

const (
	// ModePod (the default) creates a bare Pod per session.
	ModePod Mode = "pod"
	// ModeAgentSandbox creates an agents.x-k8s.io/v1alpha1 Sandbox per
	// session; the agent-sandbox controller creates its Pod. Suspend (and
	// idle suspension) scales it to zero and Resume back; the session's
	// directories survive that as volume claims (SandboxVolumeClaim).
	ModeAgentSandbox Mode = "agent-sandbox"
)

// Protocol selects how Exec streams reach the pod.
type Protocol string

const (
	// ProtocolAuto (the default) uses WebSocket and falls back to SPDY
	// only when the WebSocket upgrade fails.
	ProtocolAuto Protocol = ""
	// ProtocolWebSocket and ProtocolSPDY use one protocol only.
	ProtocolWebSocket Protocol = "websocket"
	ProtocolSPDY      Protocol = "spdy"
)

// Config describes the cluster and the pods the backend creates. Only
// RESTConfig and Image are required; the zero value of every other field
// is the secure default.
type Config struct {
	// RESTConfig reaches the API server (from a kubeconfig, or in-cluster).
	RESTConfig *rest.Config
	// Clientset and Dynamic are built from RESTConfig when nil; tests
	// pass fakes.
	Clientset kubernetes.Interface
	Dynamic   dynamic.Interface

	// Namespace holds the sessions' objects. Empty: "default".
	Namespace string
	// Mode: ModePod (empty) or ModeAgentSandbox.
	Mode Mode
	// Owner names this host in the sessions' labels, so that Sessions and
	// Sweep see only its own. Empty: the host name. At most 63 characters
	// of letters, digits, '-', '_' and '.'.
	Owner string

	// Image runs the sessions' commands. It needs a POSIX shell at Shell,
	// the timeout program (coreutils or busybox), and grep and /proc to
	// kill a command whose stream ended early.
	Image string
	// ImagePullPolicy; empty leaves the cluster's default.
	ImagePullPolicy corev1.PullPolicy
	// RuntimeClassName selects the container runtime ("gvisor", "kata").
	RuntimeClassName string
	// NodeSelector and Tolerations place the pods.
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	// Labels and Annotations are added to every object of every session.
	Labels      map[string]string
	Annotations map[string]string
	// ServiceAccountName runs the pod under that account. Its token is
	// never mounted unless AutomountServiceAccountToken says so.
	ServiceAccountName           string
	AutomountServiceAccountToken bool

	// PodSecurityContext and SecurityContext replace the secure defaults
	// (see DefaultPodSecurityContext and DefaultSecurityContext) when set.
	// Capabilities reports what the replacement still enforces.
	PodSecurityContext *corev1.PodSecurityContext
	SecurityContext    *corev1.SecurityContext

	// Shell runs every command's script. Empty: "/bin/sh".
	Shell string
	// Workdir is the pod's working directory (an emptyDir). Empty:
	// "/workspace".
	Workdir string
	// ScratchSizeLimit bounds each emptyDir the backend creates; zero
	// leaves them unbounded (the node's ephemeral storage).
	ScratchSizeLimitMB int64

	// Volumes maps a caller mount's Source to the volume that backs it
	// (a PersistentVolumeClaim, an NFS share, a ConfigMap, ...).
	Volumes map[string]corev1.VolumeSource
	// VolumeFor, when set, is asked for the sources Volumes does not
	// name. A source neither knows is refused with ErrUnsupported.
	VolumeFor func(sandbox.Mount) (corev1.VolumeSource, error)

	// SandboxVolumeClaim, in ModeAgentSandbox, turns the workdir,
	// /mnt/session/outputs and /mnt/memory into the Sandbox's
	// volumeClaimTemplates with this spec, so that they survive Suspend.
	// Nil: they are emptyDirs, and Suspend loses what they hold (Snapshot
	// and the README say so).
	SandboxVolumeClaim *corev1.PersistentVolumeClaimSpec

	// NetworkPolicyEnforced says that the cluster's CNI enforces
	// NetworkPolicy objects. The backend cannot find out by itself; when
	// false, a limited network policy is refused under OSHardened and
	// created only as a best effort under Unrestricted.
	NetworkPolicyEnforced bool

	// ExecProtocol: ProtocolAuto (empty), ProtocolWebSocket or ProtocolSPDY.
	ExecProtocol Protocol
	// ReadyTimeout bounds Provision's wait for the pod when the context
	// has no deadline; TerminateTimeout the same for Terminate. Empty:
	// 2 minutes and 1 minute.
	ReadyTimeout     time.Duration
	TerminateTimeout time.Duration
	// TerminationGracePeriod is how long the kubelet waits after SIGTERM
	// before it kills a deleted pod. Empty: 1 second (a session's
	// processes have nothing to save).
	TerminationGracePeriod time.Duration
}

// Defaults of the empty Config fields.
const (
	DefaultNamespace = "default"
	DefaultShell     = "/bin/sh"
	DefaultWorkdir   = "/workspace"
)

// withDefaults validates c and fills its empty fields.
func (c Config) withDefaults() (Config, error) {
	if c.RESTConfig == nil && c.Clientset == nil {
		return c, errors.New("kube: Config.RESTConfig is required")
	}
	if c.Image == "" {
		return c, errors.New("kube: Config.Image is required")
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	switch c.Mode {
	case "":
		c.Mode = ModePod
	case ModePod, ModeAgentSandbox:
	default:
		return c, errors.New("kube: unknown Config.Mode " + string(c.Mode))
	}
	switch c.ExecProtocol {
	case ProtocolAuto, ProtocolWebSocket, ProtocolSPDY:
	default:
		return c, errors.New("kube: unknown Config.ExecProtocol " + string(c.ExecProtocol))
	}
	if c.Owner == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, err
		}
		c.Owner = labelSafe(h)
	}
	if !validLabelValue(c.Owner) {
		return c, errors.New("kube: Config.Owner is not a valid label value: " + c.Owner)
	}
	if c.Shell == "" {
		c.Shell = DefaultShell
	}
	if c.Workdir == "" {
		c.Workdir = DefaultWorkdir
	}
	if _, err := sandbox.NormalizeTarget(c.Workdir); err != nil {
		return c, errors.New("kube: Config.Workdir: " + err.Error())
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 2 * time.Minute
	}
	if c.TerminateTimeout <= 0 {
		c.TerminateTimeout = time.Minute
	}
	if c.TerminationGracePeriod <= 0 {
		c.TerminationGracePeriod = time.Second
	}
	return c, nil
}
