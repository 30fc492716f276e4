package seccomp

import "testing"

// checkTable requires the architecture's table to hold exactly the numbers
// of want for every name it does not mark absent.
func checkTable(t *testing.T, goarch string, want map[string]int) {
	t.Helper()
	arch, err := lookupArch(goarch)
	if err != nil {
		t.Fatal(err)
	}
	for name, nr := range arch.nums {
		if nr == absent {
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: %s not checked", goarch, name)
		} else if nr != w {
			t.Errorf("%s: %s is %d, x/sys/unix says %d", goarch, name, nr, w)
		}
	}
}

// TestTablesCoverRules checks that every syscall a rule names is known on
// both architectures (present or marked absent), and that the two tables
// know the same names.
func TestTablesCoverRules(t *testing.T) {
	for _, o := range allOptions() {
		for _, r := range Rules(o) {
			for _, goarch := range testArches {
				arch, _ := lookupArch(goarch)
				if _, ok := arch.nums[r.Syscall]; !ok {
					t.Errorf("%s: rule for unknown syscall %s", goarch, r.Syscall)
				}
			}
		}
	}
	for name := range archAMD64.nums {
		if _, ok := archARM64.nums[name]; !ok {
			t.Errorf("%s in the amd64 table only", name)
		}
	}
	for name := range archARM64.nums {
		if _, ok := archAMD64.nums[name]; !ok {
			t.Errorf("%s in the arm64 table only", name)
		}
	}
}
