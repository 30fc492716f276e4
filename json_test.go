package sandbox

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("invalid literal %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
}

// roundTrip checks that v marshals to wire and that wire unmarshals to v.
func roundTrip[T any](t *testing.T, v T, wire string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v", v, err)
	}
	jsonEqual(t, b, wire)
	var back T
	if err := json.Unmarshal([]byte(wire), &back); err != nil {
		t.Fatalf("Unmarshal(%s): %v", wire, err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("Unmarshal(%s) = %+v, want %+v", wire, back, v)
	}
}

func TestNetworkPolicyJSON(t *testing.T) {
	roundTrip(t, AllowAll(), `{"mode":"unrestricted"}`)
	roundTrip(t, AllowHosts("api.github.com"), `{"mode":"limited","allowed_hosts":["api.github.com"]}`)
	roundTrip(t, DenyAll(), `{"mode":"limited"}`)

	// The zero value is spelled out as deny-all.
	b, err := json.Marshal(NetworkPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, b, `{"mode":"limited"}`)
	if !(NetworkPolicy{}).IsDenyAll() || !DenyAll().IsDenyAll() || AllowAll().IsDenyAll() || AllowHosts("a").IsDenyAll() {
		t.Fatal("IsDenyAll: an empty limited list must deny all")
	}
	var p NetworkPolicy
	if err := json.Unmarshal([]byte(`{"mode":"limited","allowed_hosts":[]}`), &p); err != nil || !p.IsDenyAll() || p.Validate() != nil {
		t.Fatalf("empty allow-list: %+v %v", p, err)
	}
	if err := json.Unmarshal([]byte(`{"mode":"open"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Validate() == nil {
		t.Fatal("mode open validated")
	}
}

func TestMountJSON(t *testing.T) {
	roundTrip(t, Mount{Source: "/data", Target: "/mnt/data", Access: ReadOnly}, `{"source":"/data","target":"/mnt/data","access":"read_only"}`)
	roundTrip(t, Mount{Target: "/mnt/scratch", Access: ReadWrite}, `{"target":"/mnt/scratch","access":"read_write"}`)
	roundTrip(t, ResolvedMount{Source: "/s", Target: "/mnt/s", Access: ReadWrite}, `{"source":"/s","target":"/mnt/s","access":"read_write"}`)
}

func TestLimitsJSON(t *testing.T) {
	roundTrip(t, Limits{}, `{}`)
	roundTrip(t, Limits{
		WallTime: 1500 * time.Millisecond, IdleTimeout: 200 * time.Millisecond, CPUTime: 2 * time.Second,
		CPUCount: 2, MemoryMB: 256, MaxProcesses: 64, MaxFileSizeMB: 10, MaxOpenFiles: 256, MaxOutputBytes: 4096,
	}, `{"wall_time_ms":1500,"idle_timeout_ms":200,"cpu_time_ms":2000,"cpu_count":2,"memory_mb":256,
		"max_processes":64,"max_file_size_mb":10,"max_open_files":256,"max_output_bytes":4096}`)
}

func TestSpecJSON(t *testing.T) {
	spec := Spec{
		SessionID:     "s-1",
		Labels:        map[string]string{"team": "tools"},
		NetworkPolicy: AllowHosts("api.github.com"),
		Mounts:        []Mount{{Source: "data", Target: "/mnt/data", Access: ReadOnly}},
		Limits:        Limits{WallTime: time.Minute, MemoryMB: 512},
		Profile:       OSHardened,
	}
	roundTrip(t, spec, `{
		"session_id":"s-1",
		"labels":{"team":"tools"},
		"network_policy":{"mode":"limited","allowed_hosts":["api.github.com"]},
		"mounts":[{"source":"data","target":"/mnt/data","access":"read_only"}],
		"limits":{"wall_time_ms":60000,"memory_mb":512},
		"profile":"os_hardened"}`)
	// The zero Spec is deny-all with default limits.
	b, err := json.Marshal(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, b, `{"network_policy":{"mode":"limited"},"limits":{}}`)
}

func TestExecRequestJSON(t *testing.T) {
	// The wire name says milliseconds, so 1500 on the wire is 1.5 s.
	roundTrip(t, ExecRequest{Command: "echo", Args: []string{"hi"}, Cwd: "sub", Env: map[string]string{"A": "b"}, Timeout: 1500 * time.Millisecond},
		`{"command":"echo","args":["hi"],"cwd":"sub","env":{"A":"b"},"timeout_ms":1500}`)
}

func TestResultAndCapabilitiesJSONKeys(t *testing.T) {
	b, err := json.Marshal(ExecResult{Stdout: []byte("o"), Stderr: []byte{}, ExitCode: 3, TimedOut: true, Reason: ReasonWallTime, StdoutTruncated: true})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stdout", "stderr", "exit_code", "timed_out", "reason", "stdout_truncated", "stderr_truncated"} {
		if _, ok := m[k]; !ok {
			t.Errorf("ExecResult JSON lacks %q: %s", k, b)
		}
	}
	if m["reason"] != "wall_time" || m["exit_code"] != 3.0 {
		t.Errorf("ExecResult JSON %s", b)
	}

	b, err = json.Marshal(Capabilities{LocalProcessSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"local_process_sandbox", "network_policy", "snapshot", "resume", "suspend_on_idle", "enforcement"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Capabilities JSON lacks %q: %s", k, b)
		}
	}
}
