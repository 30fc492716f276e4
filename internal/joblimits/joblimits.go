// Package joblimits computes the Windows Job Object settings for a set of
// resource limits. It is pure arithmetic, so it carries its own copies of the
// Windows constants and is unit-tested on every OS; osconfine's windows
// adapter copies the result into the golang.org/x/sys/windows structures.
package joblimits

import (
	"math"
	"time"
)

// Limits are the resource limits a job can carry; a zero field means no
// limit.
type Limits struct {
	MemoryBytes  uint64        // committed memory of the whole job
	CPUTime      time.Duration // user-mode CPU time of each process
	CPUCount     int           // CPUs' worth of the machine the job may use
	MaxProcesses uint64        // active processes in the job
}

// Job Object limit flags (JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags), as
// defined by winnt.h.
const (
	jobLimitProcessTime             = 0x00000002 // JOB_OBJECT_LIMIT_PROCESS_TIME
	jobLimitActiveProcess           = 0x00000008 // JOB_OBJECT_LIMIT_ACTIVE_PROCESS
	jobLimitJobMemory               = 0x00000200 // JOB_OBJECT_LIMIT_JOB_MEMORY
	jobLimitDieOnUnhandledException = 0x00000400 // JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
	jobLimitKillOnJobClose          = 0x00002000 // JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
)

// CPU rate control flags (JOBOBJECT_CPU_RATE_CONTROL_INFORMATION.ControlFlags).
const (
	jobCPURateControlEnable  = 0x1 // JOB_OBJECT_CPU_RATE_CONTROL_ENABLE
	jobCPURateControlHardCap = 0x4 // JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP
)

// jobCPURateFull is 100% of the machine in CpuRate units (1/100 of a percent).
const jobCPURateFull = 10000

// jobUILimitAll is every JOB_OBJECT_UILIMIT_* bit: no access to USER handles
// of other processes, the clipboard, system parameters, display settings,
// global atoms, desktops, or ExitWindows. A command-line tool needs none.
const jobUILimitAll = 0x000000FF

// Job mirrors the fields of JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
// JOBOBJECT_CPU_RATE_CONTROL_INFORMATION and JOBOBJECT_BASIC_UI_RESTRICTIONS
// osconfine sets.
type Job struct {
	LimitFlags uint32
	// PerProcessUserTimeLimit is in 100-nanosecond ticks (user mode only).
	PerProcessUserTimeLimit int64
	ActiveProcessLimit      uint32
	JobMemoryLimit          uint64 // bytes committed by all processes of the job
	// CPURateFlags is 0 when the CPU rate is not capped.
	CPURateFlags   uint32
	CPURate        uint32 // 1..jobCPURateFull
	UIRestrictions uint32
}

// Compute turns l into Job Object settings for a host with ncpu
// logical CPUs.
//
// Always set: kill-on-job-close (closing the last job handle, also when the
// host dies, kills every process of the job), die-on-unhandled-exception (a
// crashing child exits instead of waiting on an error-reporting dialog),
// and every UI restriction. Breakaway is never allowed, so a child cannot
// start a process outside the job with CREATE_BREAKAWAY_FROM_JOB.
//
// Limits map as follows (Windows has no file size or handle limit per job):
//   - MemoryBytes: the job's committed memory (the whole tree, stricter than
//     a per-process address-space limit).
//   - CPUTime: per-process user-mode time, rounded up to 100 ns.
//   - MaxProcesses: active processes in the job (threads are not counted),
//     capped at 2^32-1.
//   - CPUCount: a hard cap on the job's share of all CPUs, count/ncpu of the
//     machine (rounded up); none when count >= ncpu.
func Compute(l Limits, ncpu int) Job {
	j := Job{
		LimitFlags:     jobLimitKillOnJobClose | jobLimitDieOnUnhandledException,
		UIRestrictions: jobUILimitAll,
	}
	if l.MemoryBytes > 0 {
		j.LimitFlags |= jobLimitJobMemory
		j.JobMemoryLimit = l.MemoryBytes
	}
	if l.CPUTime > 0 {
		const tick = 100 * time.Nanosecond
		j.LimitFlags |= jobLimitProcessTime
		j.PerProcessUserTimeLimit = int64((l.CPUTime + tick - 1) / tick)
	}
	if l.MaxProcesses > 0 {
		j.LimitFlags |= jobLimitActiveProcess
		j.ActiveProcessLimit = uint32(min(l.MaxProcesses, math.MaxUint32))
	}
	if l.CPUCount > 0 && ncpu > 0 && l.CPUCount < ncpu {
		rate := (uint64(l.CPUCount)*jobCPURateFull + uint64(ncpu) - 1) / uint64(ncpu)
		j.CPURateFlags = jobCPURateControlEnable | jobCPURateControlHardCap
		j.CPURate = uint32(min(max(rate, 1), jobCPURateFull))
	}
	return j
}
