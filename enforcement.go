package sandbox

// This file holds the enforcement report every backend fills in
// Capabilities. It is plain data so that hosted backends (a cluster, a VM
// service) report in the same shape as the local one without importing the
// local OS layer.

// Mechanism says whether one dimension of confinement is enforced, and by
// what. When Enforced is false, Reason says what is missing.
type Mechanism struct {
	Enforced bool   `json:"enforced"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// EnforcedBy is a Mechanism enforced by the named means.
func EnforcedBy(by string) Mechanism { return Mechanism{Enforced: true, By: by} }

// NotEnforced is a Mechanism that is not enforced, for the given reason.
func NotEnforced(reason string) Mechanism { return Mechanism{Reason: reason} }

func (m Mechanism) String() string {
	if m.Enforced {
		return "enforced by " + m.By
	}
	return "not enforced: " + m.Reason
}

// LimitSupport reports, per resource limit, whether it is enforced.
type LimitSupport struct {
	Memory       Mechanism `json:"memory"`
	CPUTime      Mechanism `json:"cpu_time"`
	CPUCount     Mechanism `json:"cpu_count"`
	MaxProcesses Mechanism `json:"max_processes"`
	MaxFileSize  Mechanism `json:"max_file_size"`
	MaxOpenFiles Mechanism `json:"max_open_files"`
}

// Enforcement is a backend's report of what it enforces, per dimension.
type Enforcement struct {
	// OS is where commands run ("linux", "darwin", ... or a backend's own
	// word, such as "kubernetes").
	OS string `json:"os"`
	// LandlockABI is the Landlock ABI of the Linux kernel commands run
	// under (0: none, or not known to the backend).
	LandlockABI int `json:"landlock_abi,omitempty"`

	Filesystem       Mechanism `json:"filesystem"`
	NetworkDenyAll   Mechanism `json:"network_deny_all"`
	NetworkAllowList Mechanism `json:"network_allow_list"`
	UnixSockets      Mechanism `json:"unix_sockets"`
	Syscalls         Mechanism `json:"syscalls"`
	ProcessTree      Mechanism `json:"process_tree"`
	// UnrestrictedProcessTree is whether everything an Unrestricted
	// command starts dies with it (a profile without confinement still
	// leaves nothing behind where the host allows it).
	UnrestrictedProcessTree Mechanism `json:"unrestricted_process_tree"`
	Privileges              Mechanism `json:"privileges"`
	// HostFileMetadata is whether a command is kept from changing the
	// mode, owner or times of host files outside its roots. It is
	// reported, not checked: no profile can opt out of it.
	HostFileMetadata Mechanism    `json:"host_file_metadata"`
	Limits           LimitSupport `json:"limits"`
	// View is whether OSHardened sessions get a view of their own (local
	// backend, see ViewMode): mounts at their guest paths, a /proc of
	// their own, no host file outside the session. Where it is not
	// enforced, commands use host paths and see the host's processes.
	View Mechanism `json:"view"`
}

// Identity is a numeric user and group that commands run as; such
// commands have no supplementary groups.
type Identity struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}
