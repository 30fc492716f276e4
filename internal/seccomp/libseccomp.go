//go:build libseccomp && linux && cgo

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// CompileLibseccomp builds the same filter as [Compile] with libseccomp and
// returns the BPF program libseccomp generates. It exists to cross-check the
// pure-Go compiler (and as an alternative for those who prefer libseccomp's
// code generation); [Install] loads either program.
//
// It never calls the filter's Load: libseccomp-golang's NewFilter turns on
// TSYNC, so Load would confine every thread of the host process. Only
// ExportBPF is used; the TSYNC and no_new_privs attributes only matter to
// Load and are left as they are.
//
// libseccomp has no "allow" exception under an allow default, no "not equal"
// on part of an argument, and at most one comparison per argument in a rule.
// So the ordered rules of each syscall are first turned into disjoint
// deny regions, each a union of cubes (one masked-equality per argument):
// rule i refuses what its conditions cover minus what earlier rules with a
// different action cover. Every cube becomes one libseccomp rule.
//
// A foreign architecture gets ERRNO(EPERM), as with Compile. On amd64,
// libseccomp itself refuses x32 numbers (nr >= 0x40000000) with the
// bad-architecture action when x32 is not in the filter, which is the same
// decision Compile makes; the comparison test checks it.
func CompileLibseccomp(rules []Rule, goarch string) ([]unix.SockFilter, error) {
	arch, err := lookupArch(goarch)
	if err != nil {
		return nil, err
	}
	groups, err := groupRules(rules, arch)
	if err != nil {
		return nil, err
	}
	target, err := scmpArch(goarch)
	if err != nil {
		return nil, err
	}
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}

	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}
	defer f.Release()
	if target != native {
		if err := f.AddArch(target); err != nil {
			return nil, fmt.Errorf("seccomp: libseccomp: adding %v: %w", target, err)
		}
		if err := f.RemoveArch(native); err != nil {
			return nil, fmt.Errorf("seccomp: libseccomp: removing %v: %w", native, err)
		}
	}
	if err := f.SetBadArchAction(libseccomp.ActErrno.SetReturnCode(int16(errEPERM))); err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
	}

	for _, g := range groups {
		name := g.rules[0].Syscall
		// libseccomp takes syscall numbers in the native numbering and
		// translates them by name for other architectures.
		sc, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			if target != native {
				return nil, fmt.Errorf("seccomp: libseccomp does not know %s: %w", name, err)
			}
			// A syscall newer than this libseccomp: our number, which
			// it uses as is on the native architecture.
			sc = libseccomp.ScmpSyscall(g.nr)
		}
		for i, r := range g.rules {
			if r.Action == ActAllow {
				continue
			}
			region := condCubes(r.Cond)
			for _, earlier := range g.rules[:i] {
				if earlier.Action == r.Action {
					continue // overlap gives the same answer
				}
				for _, p := range condCubes(earlier.Cond) {
					region = subtractCube(region, p)
				}
			}
			errno, _ := r.Action.Errno()
			act := libseccomp.ActErrno.SetReturnCode(int16(errno))
			for _, c := range region {
				conds, err := c.conditions()
				if err != nil {
					return nil, err
				}
				if len(conds) == 0 {
					err = f.AddRule(sc, act)
				} else {
					err = f.AddRuleConditional(sc, act, conds)
				}
				if err != nil {
					return nil, fmt.Errorf("seccomp: libseccomp: rule for %s: %w", name, err)
				}
			}
		}
	}
	return exportBPF(f)
}

func scmpArch(goarch string) (libseccomp.ScmpArch, error) {
	switch goarch {
	case "amd64":
		return libseccomp.ArchAMD64, nil
	case "arm64":
		return libseccomp.ArchARM64, nil
	}
	return libseccomp.ArchInvalid, fmt.Errorf("seccomp: architecture %q not supported", goarch)
}

// exportBPF reads the program libseccomp generates through a pipe.
func exportBPF(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	type result struct {
		b   []byte
		err error
	}
	read := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		read <- result{b, err}
	}()
	err = f.ExportBPF(w)
	w.Close()
	res := <-read
	if err != nil {
		return nil, fmt.Errorf("seccomp: libseccomp export: %w", err)
	}
	if res.err != nil {
		return nil, res.err
	}
	if len(res.b)%8 != 0 {
		return nil, fmt.Errorf("seccomp: libseccomp exported %d bytes, not whole instructions", len(res.b))
	}
	prog := make([]unix.SockFilter, len(res.b)/8)
	for i := range prog {
		b := res.b[8*i:]
		// struct sock_filter in native byte order.
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	if len(prog) == 0 {
		return nil, errors.New("seccomp: libseccomp exported an empty program")
	}
	return prog, nil
}

// cube is a conjunction of one masked equality per argument:
// args[i] & mask[i] == value[i] for every i. A zero mask puts no condition
// on that argument.
type cube struct {
	mask, value [6]uint64
}

// intersect is c ∧ p, and false when no argument values satisfy both.
func (c cube) intersect(p cube) (cube, bool) {
	for i := range c.mask {
		if c.mask[i]&p.mask[i]&(c.value[i]^p.value[i]) != 0 {
			return cube{}, false
		}
		c.mask[i] |= p.mask[i]
		c.value[i] |= p.value[i]
	}
	return c, true
}

func atomCube(a ArgCond) cube {
	var c cube
	c.mask[a.Arg] = a.Mask
	c.value[a.Arg] = a.Value
	return c
}

// condCubes is a rule's conditions as a union of disjoint cubes.
func condCubes(conds []ArgCond) []cube {
	cubes := []cube{{}}
	for _, a := range conds {
		p := atomCube(a)
		if a.Op == CmpNe {
			cubes = subtractCube(cubes, p)
			continue
		}
		var next []cube
		for _, c := range cubes {
			if x, ok := c.intersect(p); ok {
				next = append(next, x)
			}
		}
		cubes = next
	}
	return cubes
}

// subtractCube is the union of cubes minus p, as disjoint cubes: for each
// cube that meets p, walk the bits p fixes and the cube does not; the k-th
// piece agrees with p on the first k-1 of them and differs on the k-th.
func subtractCube(cubes []cube, p cube) []cube {
	var out []cube
	for _, c := range cubes {
		if _, meets := c.intersect(p); !meets {
			out = append(out, c)
			continue
		}
		cur := c
		for i := range cur.mask {
			free := p.mask[i] &^ cur.mask[i]
			for bit := uint64(1); bit != 0; bit <<= 1 {
				if free&bit == 0 {
					continue
				}
				piece := cur
				piece.mask[i] |= bit
				piece.value[i] |= ^p.value[i] & bit
				out = append(out, piece)
				cur.mask[i] |= bit
				cur.value[i] |= p.value[i] & bit
			}
		}
		// cur is now c ∩ p: dropped.
	}
	return out
}

// conditions is the cube as libseccomp conditions.
func (c cube) conditions() ([]libseccomp.ScmpCondition, error) {
	var conds []libseccomp.ScmpCondition
	for i, m := range c.mask {
		var (
			cond libseccomp.ScmpCondition
			err  error
		)
		switch m {
		case 0:
			continue
		case ^uint64(0):
			cond, err = libseccomp.MakeCondition(uint(i), libseccomp.CompareEqual, c.value[i])
		default:
			cond, err = libseccomp.MakeCondition(uint(i), libseccomp.CompareMaskedEqual, m, c.value[i])
		}
		if err != nil {
			return nil, fmt.Errorf("seccomp: libseccomp: %w", err)
		}
		conds = append(conds, cond)
	}
	return conds, nil
}
