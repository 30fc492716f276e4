package sandboxtest

import (
	"slices"

	"github.com/go-sandbox/sandbox"
)

func mechFilesystem(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "filesystem confinement", s.Filesystem
}
func mechNetwork(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "deny-all network", s.NetworkDenyAll
}
func mechProcessTree(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "process tree containment", s.ProcessTree
}

// cases is the contract, in report order.
func (k *kit) cases() []tcase {
	return slices.Concat(k.basicCases(), k.processCases(), k.viewCases())
}

func (k *kit) basicCases() []tcase {
	return []tcase{
		{name: "workspace_write_admitted", fn: workspaceWrite},
		{name: "outside_write_refused", refusal: true, mech: mechFilesystem, fn: outsideWrite},
		{name: "outside_read_refused", refusal: true, mech: mechFilesystem, fn: outsideRead},
		{name: "system_read_admitted", fn: systemRead},
		{name: "ro_mount_write_refused", refusal: true, mech: mechFilesystem, fn: roMountWrite},
		{name: "ro_mount_read_admitted", fn: roMountRead},
		{name: "session_temp_write_admitted", fn: sessionTempWrite},
		{name: "other_session_temp_read_refused", refusal: true, mech: mechFilesystem, fn: otherSessionTempRead},
		{name: "undeclared_env_withheld", refusal: true, fn: undeclaredEnv},
		{name: "declared_env_delivered", fn: declaredEnv},
		{name: "network_denyall_refused", refusal: true, mech: mechNetwork, fn: networkDenyAll},
		{name: "network_unrestricted_admitted", fn: networkUnrestricted},
		{name: "timeout_kills_and_reports", fn: timeoutKills},
		{name: "output_cap_truncates", fn: outputCap},
		{name: "terminate_leaves_nothing", refusal: true, mech: mechProcessTree, fn: terminateLeavesNothing},
		{name: "unknown_session_not_found", fn: unknownSession},
		{name: "exec_after_terminate_not_found", fn: execAfterTerminate},
	}
}
