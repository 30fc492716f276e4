package osconfine

// The raw Job Object and Toolhelp calls of the windows adapter. They run on
// whatever thread the calling goroutine is on: none of them depends on the
// calling thread.

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/go-sandbox/sandbox/internal/joblimits"
	"golang.org/x/sys/windows"
)

// newJob creates an unnamed job with the limits set.
func newJob(l joblimits.Job) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("osconfine: CreateJobObject: %w", err)
	}
	fail := func(what string, err error) (windows.Handle, error) {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("osconfine: job %s: %w", what, err)
	}

	var ext windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	ext.BasicLimitInformation.LimitFlags = l.LimitFlags
	ext.BasicLimitInformation.PerProcessUserTimeLimit = l.PerProcessUserTimeLimit
	ext.BasicLimitInformation.ActiveProcessLimit = l.ActiveProcessLimit
	ext.JobMemoryLimit = uintptr(min(l.JobMemoryLimit, uint64(^uintptr(0))))
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&ext)), uint32(unsafe.Sizeof(ext))); err != nil {
		return fail("limits", err)
	}

	ui := windows.JOBOBJECT_BASIC_UI_RESTRICTIONS{UIRestrictionsClass: l.UIRestrictions}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectBasicUIRestrictions,
		uintptr(unsafe.Pointer(&ui)), uint32(unsafe.Sizeof(ui))); err != nil {
		return fail("UI restrictions", err)
	}

	if l.CPURateFlags != 0 {
		// JOBOBJECT_CPU_RATE_CONTROL_INFORMATION: ControlFlags, then a
		// union whose CpuRate member is a DWORD. x/sys/windows has no type
		// for it.
		rate := struct {
			ControlFlags uint32
			CPURate      uint32
		}{l.CPURateFlags, l.CPURate}
		if _, err := windows.SetInformationJobObject(job, windows.JobObjectCpuRateControlInformation,
			uintptr(unsafe.Pointer(&rate)), uint32(unsafe.Sizeof(rate))); err != nil {
			return fail("CPU rate", err)
		}
	}
	return job, nil
}

// enterJobAndResume assigns the suspended process pid to job, resumes its
// threads and returns a handle to the process the caller can wait on (and
// must close). The pid cannot be reused meanwhile: os/exec holds a handle to
// the process.
func enterJobAndResume(job windows.Handle, pid uint32) (windows.Handle, error) {
	proc, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE|windows.SYNCHRONIZE, false, pid)
	if err != nil {
		return 0, fmt.Errorf("osconfine: OpenProcess: %w", err)
	}
	fail := func(err error) (windows.Handle, error) {
		windows.CloseHandle(proc)
		return 0, err
	}
	if err := windows.AssignProcessToJobObject(job, proc); err != nil {
		return fail(fmt.Errorf("osconfine: AssignProcessToJobObject: %w", err))
	}
	n, err := resumeThreads(pid)
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		return fail(errors.New("osconfine: resuming the child: no thread found"))
	}
	return proc, nil
}

// resumeThreads resumes every thread of process pid and returns how many
// it resumed.
func resumeThreads(pid uint32) (int, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return 0, fmt.Errorf("osconfine: CreateToolhelp32Snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	var te windows.ThreadEntry32
	te.Size = uint32(unsafe.Sizeof(te))
	n := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return n, fmt.Errorf("osconfine: OpenThread: %w", err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return n, fmt.Errorf("osconfine: ResumeThread: %w", err)
		}
		n++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return n, fmt.Errorf("osconfine: Thread32Next: %w", err)
	}
	return n, nil
}
