package seccomp

import (
	"math/rand/v2"
	"testing"

	"github.com/go-sandbox/sandbox/internal/seccomp/bpfvm"
	"golang.org/x/sys/unix"
)

// TestLongJumps builds programs far longer than a conditional jump can span
// (8-bit offsets) and checks them against Decide: the dispatch chain must
// reach bodies hundreds of instructions away, and a failed condition must
// reach the next rule or the default.
func TestLongJumps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var rules []Rule
	// 150 ioctl rules of 64-bit comparisons (about 5 instructions each),
	// then rules on other syscalls after them.
	values := make([]uint64, 150)
	for i := range values {
		values[i] = r.Uint64()
		act := ActErrno(unix.Errno(i + 1))
		cond := ArgEq(1, values[i])
		if i%3 == 1 {
			cond = ArgMaskedNe(2, 0xff00ff00ff00ff00, values[i]&0xff00ff00ff00ff00)
			act = ActAllow
		}
		rules = append(rules, Rule{Syscall: "ioctl", Cond: []ArgCond{cond, ArgNe32(0, uint32(i))}, Action: act})
	}
	rules = append(rules,
		Rule{Syscall: "ioctl", Action: ActErrno(unix.EIO)},
		Rule{Syscall: "socket", Cond: []ArgCond{ArgEq32(0, 2)}, Action: ActErrno(unix.EACCES)},
		Rule{Syscall: "getpid", Action: ActErrno(unix.ENOENT)},
	)
	for _, goarch := range testArches {
		arch, _ := lookupArch(goarch)
		prog, err := Compile(rules, goarch)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) < 600 {
			t.Fatalf("program only %d long", len(prog))
		}
		trampolines := 0
		for _, ins := range prog {
			if ins.Code == unix.BPF_JMP|unix.BPF_JA {
				trampolines++
			}
		}
		if trampolines < 2 {
			t.Errorf("expected trampolines in a %d-instruction program, found %d JA", len(prog), trampolines)
		}
		v := load(t, prog)
		names := []string{"ioctl", "socket", "getpid", "read"}
		for i := range 20000 {
			d := randomInput(r, arch, names)
			if i%2 == 0 && d.Nr == int32(arch.nums["ioctl"]) {
				k := r.IntN(len(values))
				d.Args[1] = values[k]
				if r.IntN(2) == 0 {
					d.Args[0] = uint64(k)
				}
				if r.IntN(2) == 0 {
					d.Args[2] = values[k] & 0xff00ff00ff00ff00
				}
			}
			if got, want := v.run(d), reference(rules, arch, d); got != want {
				t.Fatalf("%s: %+v: got %#x, want %#x", goarch, d, got, want)
			}
		}
	}
}

func TestCompileRejects(t *testing.T) {
	bad := map[string][]Rule{
		"kill action":    {{Syscall: "read", Action: Action(0)}},
		"trap action":    {{Syscall: "read", Action: Action(0x00030000)}},
		"unknown name":   {{Syscall: "no_such_call", Action: ActErrno(unix.EPERM)}},
		"empty name":     {{Action: ActErrno(unix.EPERM)}},
		"arg 6":          {{Syscall: "read", Cond: []ArgCond{ArgEq(6, 1)}, Action: ActErrno(unix.EPERM)}},
		"zero mask":      {{Syscall: "read", Cond: []ArgCond{ArgMaskedEq(0, 0, 0)}, Action: ActErrno(unix.EPERM)}},
		"value off mask": {{Syscall: "read", Cond: []ArgCond{ArgMaskedEq(0, 0xf0, 0x1)}, Action: ActErrno(unix.EPERM)}},
		"no op":          {{Syscall: "read", Cond: []ArgCond{{Arg: 0, Mask: 1}}, Action: ActErrno(unix.EPERM)}},
	}
	for name, rules := range bad {
		if _, err := Compile(rules, "amd64"); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	for _, goarch := range []string{"386", "arm", "riscv64", ""} {
		if _, err := Compile(Rules(Options{}), goarch); err == nil {
			t.Errorf("compiled for %q", goarch)
		}
	}
	// Too long for the kernel.
	var long []Rule
	for i := range 1100 {
		long = append(long, Rule{Syscall: "ioctl", Cond: []ArgCond{ArgEq(1, uint64(i)<<32|1)}, Action: ActErrno(unix.EPERM)})
	}
	if _, err := Compile(long, "amd64"); err == nil {
		t.Error("compiled a program over 4096 instructions")
	}
}

// TestProgramShape checks the prologue: arch first, errno (never kill) for a
// foreign one, the x32 check on amd64 only.
func TestProgramShape(t *testing.T) {
	for _, goarch := range testArches {
		prog, err := Compile(Rules(Options{DenyNetwork: true}), goarch)
		if err != nil {
			t.Fatal(err)
		}
		if err := bpfvm.Validate(prog); err != nil {
			t.Fatal(err)
		}
		if prog[0] != (unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offArch}) {
			t.Errorf("%s: first instruction %+v does not load the arch", goarch, prog[0])
		}
		x32 := prog[3].Code == unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K && prog[3].K == 0x40000000
		if x32 != (goarch == "amd64") {
			t.Errorf("%s: x32 check present: %v", goarch, x32)
		}
		for i, ins := range prog {
			if ins.Code == unix.BPF_RET|unix.BPF_K && ins.K != retAllow && ins.K&0xffff0000 != retErrno {
				t.Errorf("%s: instruction %d returns %#x", goarch, i, ins.K)
			}
			if ins.Code == unix.BPF_RET|unix.BPF_A {
				t.Errorf("%s: instruction %d returns A", goarch, i)
			}
		}
		t.Logf("%s: %d instructions", goarch, len(prog))
	}
}
