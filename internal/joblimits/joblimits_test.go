package joblimits

import (
	"math"
	"testing"
	"time"
)

func TestJobLimits(t *testing.T) {
	const always = jobLimitKillOnJobClose | jobLimitDieOnUnhandledException
	cases := []struct {
		name string
		l    Limits
		ncpu int
		want Job
	}{
		{"none", Limits{}, 8, Job{LimitFlags: always, UIRestrictions: jobUILimitAll}},
		{"memory", Limits{MemoryBytes: 512 << 20}, 8, Job{
			LimitFlags: always | jobLimitJobMemory, JobMemoryLimit: 512 << 20, UIRestrictions: jobUILimitAll}},
		{"cpu time", Limits{CPUTime: 1500 * time.Millisecond}, 8, Job{
			LimitFlags: always | jobLimitProcessTime, PerProcessUserTimeLimit: 15_000_000, UIRestrictions: jobUILimitAll}},
		{"cpu time rounds up", Limits{CPUTime: 150 * time.Nanosecond}, 8, Job{
			LimitFlags: always | jobLimitProcessTime, PerProcessUserTimeLimit: 2, UIRestrictions: jobUILimitAll}},
		{"processes", Limits{MaxProcesses: 32}, 8, Job{
			LimitFlags: always | jobLimitActiveProcess, ActiveProcessLimit: 32, UIRestrictions: jobUILimitAll}},
		{"processes capped", Limits{MaxProcesses: 1 << 40}, 8, Job{
			LimitFlags: always | jobLimitActiveProcess, ActiveProcessLimit: math.MaxUint32, UIRestrictions: jobUILimitAll}},
		{"2 of 8 cpus", Limits{CPUCount: 2}, 8, Job{
			LimitFlags: always, CPURateFlags: jobCPURateControlEnable | jobCPURateControlHardCap, CPURate: 2500, UIRestrictions: jobUILimitAll}},
		{"1 of 3 cpus rounds up", Limits{CPUCount: 1}, 3, Job{
			LimitFlags: always, CPURateFlags: jobCPURateControlEnable | jobCPURateControlHardCap, CPURate: 3334, UIRestrictions: jobUILimitAll}},
		{"1 of 20000 cpus is at least 1", Limits{CPUCount: 1}, 20000, Job{
			LimitFlags: always, CPURateFlags: jobCPURateControlEnable | jobCPURateControlHardCap, CPURate: 1, UIRestrictions: jobUILimitAll}},
		{"all cpus: no cap", Limits{CPUCount: 8}, 8, Job{LimitFlags: always, UIRestrictions: jobUILimitAll}},
		{"more than all cpus: no cap", Limits{CPUCount: 64}, 8, Job{LimitFlags: always, UIRestrictions: jobUILimitAll}},
	}
	for _, c := range cases {
		if got := Compute(c.l, c.ncpu); got != c.want {
			t.Errorf("%s: Compute(%+v, %d) =\n  %+v\nwant\n  %+v", c.name, c.l, c.ncpu, got, c.want)
		}
	}
}
