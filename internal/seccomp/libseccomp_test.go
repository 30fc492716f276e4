//go:build libseccomp && linux && cgo

package seccomp

import (
	"math/rand/v2"
	"syscall"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// TestLibseccompSameDecisions runs the pure-Go and the libseccomp programs on
// the decision table and on random inputs, for every option set on both
// architectures, and requires the same return value every time.
func TestLibseccompSameDecisions(t *testing.T) {
	maj, min, mic := libseccomp.GetLibraryVersion()
	t.Logf("libseccomp %d.%d.%d", maj, min, mic)
	r := rand.New(rand.NewPCG(5, 6))
	for _, goarch := range testArches {
		arch, _ := lookupArch(goarch)
		table := decisions(t, goarch)
		for _, o := range allOptions() {
			rules := libseccompKnows(t, Rules(o), goarch)
			ours, err := Compile(rules, goarch)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := CompileLibseccomp(rules, goarch)
			if err != nil {
				t.Fatalf("%s %+v: %v", goarch, o, err)
			}
			t.Logf("%s %+v: %d instructions, libseccomp %d", goarch, o, len(ours), len(theirs))
			for _, d := range table {
				if d.opts != o || !knownNr(rules, goarch, d.in.Nr) {
					continue
				}
				if got := runProg(t, theirs, d.in); got != d.want {
					t.Errorf("libseccomp %s %s (%+v): got %#x, want %#x", goarch, d.name, o, got, d.want)
				}
			}
			names := ruleNames(rules)
			vo, vt := load(t, ours), load(t, theirs)
			for range 4000 {
				d := randomInput(r, arch, names)
				if a, b := vo.run(d), vt.run(d); a != b {
					t.Fatalf("%s %+v: %+v: Compile gives %#x, libseccomp %#x", goarch, o, d, a, b)
				}
			}
		}
	}
}

// TestLibseccompMixedRules compares both compilers with Decide on random
// rule lists mixing allow and errno rules and every kind of condition.
func TestLibseccompMixedRules(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	atoms := []ArgCond{
		ArgEq(0, 17), ArgEq32(0, 17), ArgNe(1, 0), ArgNe32(1, 5), ArgMaskedEq(2, 0xf0, 0x30),
		ArgMaskedEq32(2, 0x7, 0x1), ArgMaskedNe(3, 1<<40, 0), ArgMaskedNe32(0, 0xff, 0x11),
		ArgEq(1, 0xdead_beef_0000_0005), ArgNe(0, 0xffffffff),
	}
	// libseccomp's code generation is slow on the long programs negated
	// 64-bit comparisons give: keep the number of rounds modest.
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	tooLong := 0
	for round := range rounds {
		var rules []Rule
		for range 1 + r.IntN(4) {
			var conds []ArgCond
			for range r.IntN(3) {
				conds = append(conds, atoms[r.IntN(len(atoms))])
			}
			act := ActAllow
			if r.IntN(3) != 0 {
				act = ActErrno(errEPERM + syscall.Errno(r.IntN(3)))
			}
			rules = append(rules, Rule{Syscall: []string{"ioctl", "socket"}[r.IntN(2)], Cond: conds, Action: act})
		}
		for _, goarch := range testArches {
			arch, _ := lookupArch(goarch)
			ours, err := Compile(rules, goarch)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := CompileLibseccomp(rules, goarch)
			if err != nil {
				t.Fatalf("round %d %s: %v\n%+v", round, goarch, err, rules)
			}
			if len(theirs) > maxInsns {
				// Negated 64-bit comparisons become many cubes; the
				// kernel would not take the program, nothing to compare.
				tooLong++
				continue
			}
			vo, vt := load(t, ours), load(t, theirs)
			for range 2000 {
				d := randomInput(r, arch, []string{"ioctl", "socket", "read"})
				for i := range d.Args {
					if r.IntN(3) == 0 {
						d.Args[i] = []uint64{17, 0x11, 0x1_00000011, 5, 0x30, 0x31, 1 << 40, 0xdead_beef_0000_0005, 0xffffffff}[r.IntN(9)]
					}
				}
				want := reference(rules, arch, d)
				if a, b := vo.run(d), vt.run(d); a != want || b != want {
					t.Fatalf("round %d %s: %+v: Compile %#x, libseccomp %#x, want %#x\nrules %+v", round, goarch, d, a, b, want, rules)
				}
			}
		}
	}
	t.Logf("%d of %d programs too long for the kernel, skipped", tooLong, 2*rounds)
	if tooLong > rounds/2 {
		t.Errorf("%d of %d libseccomp programs too long: the test compares too little", tooLong, 2*rounds)
	}
}

// libseccompKnows drops, for a foreign architecture, the rules for syscalls
// this libseccomp does not know: it can only add those by number on the
// native architecture.
var notCompared = map[string]bool{}

func libseccompKnows(t *testing.T, rules []Rule, goarch string) []Rule {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		t.Fatal(err)
	}
	if sa, _ := scmpArch(goarch); sa == native {
		return rules
	}
	var kept []Rule
	for _, r := range rules {
		if _, err := libseccomp.GetSyscallFromName(r.Syscall); err != nil {
			if !notCompared[goarch+" "+r.Syscall] {
				notCompared[goarch+" "+r.Syscall] = true
				t.Logf("%s: libseccomp does not know %s, not compared", goarch, r.Syscall)
			}
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// knownNr reports whether nr is not one of the syscalls libseccompKnows
// dropped.
func knownNr(rules []Rule, goarch string, nr int32) bool {
	arch, _ := lookupArch(goarch)
	for name, n := range arch.nums {
		if n == int(nr) && n != absent {
			for _, r := range rules {
				if r.Syscall == name {
					return true
				}
			}
			_, err := libseccomp.GetSyscallFromName(name)
			return err == nil
		}
	}
	return true
}

// TestLibseccompNumbers checks both tables against libseccomp's: the only
// check of the arm64 numbers an amd64 host can run.
func TestLibseccompNumbers(t *testing.T) {
	for _, goarch := range testArches {
		arch, _ := lookupArch(goarch)
		sa, _ := scmpArch(goarch)
		for name, nr := range arch.nums {
			sc, err := libseccomp.GetSyscallFromNameByArch(name, sa)
			switch {
			case err != nil:
				t.Logf("%s: libseccomp does not know %s", goarch, name)
			case nr == absent && sc >= 0:
				t.Errorf("%s: %s marked absent, libseccomp says %d", goarch, name, sc)
			case nr != absent && int(sc) != nr:
				t.Errorf("%s: %s is %d, libseccomp says %d", goarch, name, nr, sc)
			}
		}
	}
}
