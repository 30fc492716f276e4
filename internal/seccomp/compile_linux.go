package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data: int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6]. Both supported architectures are
// little-endian, so the low word of args[i] comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// noSyscall is nr -1 as seccomp_data holds it.
const noSyscall = 0xffffffff

// maxInsns is BPF_MAXINSNS, the longest program the kernel takes.
const maxInsns = 4096

// Compile turns rules into a classic BPF seccomp program for goarch ("amd64"
// or "arm64"; any other is an error).
//
// The program first loads seccomp_data.arch and returns ERRNO(EPERM) for any
// ABI but the native one; on amd64 it then refuses every syscall number with
// the x32 bit (nr -1 excepted, see the package doc). Then it compares nr with
// each syscall that has rules; the rules of a syscall are tried in order, a
// condition that fails moves on to the next rule, and a syscall with no
// matching rule, or no rule, is allowed.
// Rules naming a syscall the architecture lacks are skipped; a name the
// package does not know is an error.
func Compile(rules []Rule, goarch string) ([]unix.SockFilter, error) {
	arch, err := lookupArch(goarch)
	if err != nil {
		return nil, err
	}
	groups, err := groupRules(rules, arch)
	if err != nil {
		return nil, err
	}

	var a assembler
	badArch := a.newLabel()
	allow := a.newLabel()

	// Architecture first: nr means nothing without it.
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	a.jumpNext(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, arch.audit, badArch, false)
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
	if arch.x32Bit != 0 {
		// Refuse x32 numbers. The unsigned compare also catches negative
		// numbers; of those only -1 is let through, as libseccomp does: it
		// is no syscall (the kernel answers ENOSYS), but a tracer sets nr
		// to -1 to skip a syscall with a return value of its choosing, and
		// the filter, which runs again after the tracer, must not overwrite
		// that value with an errno.
		high, native := a.newLabel(), a.newLabel()
		a.jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, arch.x32Bit, high, native)
		a.bind(high)
		a.jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, noSyscall, allow, badArch)
		a.bind(native)
	}

	// Dispatch on nr (held in A for the whole chain). The kernel's seccomp
	// action cache finds out that syscalls not in the chain are always
	// allowed and skips the program for them, so a linear chain costs
	// nothing on hot syscalls.
	bodies := make([]label, len(groups))
	for i, g := range groups {
		bodies[i] = a.newLabel()
		a.jumpNext(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(g.nr), bodies[i], true)
	}
	a.ja(allow)

	for i, g := range groups {
		a.bind(bodies[i])
		for _, r := range g.rules {
			next := a.newLabel()
			for _, c := range r.Cond {
				a.cond(c, next)
			}
			a.stmt(unix.BPF_RET|unix.BPF_K, r.Action.Ret())
			a.bind(next)
		}
		a.stmt(unix.BPF_RET|unix.BPF_K, retAllow)
	}

	a.bind(badArch)
	a.stmt(unix.BPF_RET|unix.BPF_K, ActErrno(errEPERM).Ret())
	a.bind(allow)
	a.stmt(unix.BPF_RET|unix.BPF_K, retAllow)

	return a.assemble()
}

// group is the rules of one syscall, in their original order.
type group struct {
	nr    int
	rules []Rule
}

// groupRules validates rules and groups them by syscall, in the order each
// syscall first appears (first match wins within a group).
func groupRules(rules []Rule, arch *archInfo) ([]group, error) {
	var groups []group
	index := map[string]int{}
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		nr, known := arch.nums[r.Syscall]
		if !known {
			return nil, fmt.Errorf("seccomp: unknown syscall %q on %s", r.Syscall, arch.goarch)
		}
		if nr == absent {
			continue
		}
		i, seen := index[r.Syscall]
		if !seen {
			i = len(groups)
			index[r.Syscall] = i
			groups = append(groups, group{nr: nr})
		}
		groups[i].rules = append(groups[i].rules, r)
	}
	return groups, nil
}

// label is a position in the program, resolved by assemble.
type label int

type itemKind uint8

const (
	itemStmt  itemKind = iota // a non-jump instruction
	itemJump                  // a conditional jump to two labels
	itemJA                    // an unconditional jump to a label
	itemLabel                 // binds a label to the next instruction
)

type item struct {
	kind   itemKind
	code   uint16
	k      uint32
	jt, jf label // itemJump; itemJA uses jt; itemLabel binds jt
}

// assembler lays out a program with symbolic jump targets. Conditional
// jumps have 8-bit offsets; assemble gives a jump whose target is further
// away a trampoline (a JA, which has a 32-bit offset) right after it.
type assembler struct {
	items   []item
	nlabels int
}

func (a *assembler) newLabel() label {
	a.nlabels++
	return label(a.nlabels - 1)
}

func (a *assembler) bind(l label) { a.items = append(a.items, item{kind: itemLabel, jt: l}) }
func (a *assembler) stmt(code uint16, k uint32) {
	a.items = append(a.items, item{kind: itemStmt, code: code, k: k})
}
func (a *assembler) ja(l label) { a.items = append(a.items, item{kind: itemJA, jt: l}) }
func (a *assembler) jump(code uint16, k uint32, jt, jf label) {
	a.items = append(a.items, item{kind: itemJump, code: code, k: k, jt: jt, jf: jf})
}

// jumpNext emits a conditional jump to target when the test is onTrue and
// falls through to the next instruction otherwise.
func (a *assembler) jumpNext(code uint16, k uint32, target label, onTrue bool) {
	next := a.newLabel()
	if onTrue {
		a.jump(code, k, target, next)
	} else {
		a.jump(code, k, next, target)
	}
	a.bind(next)
}

// cond emits the test of c; control falls through when c holds and goes to
// fail when it does not. A 64-bit argument is two 32-bit words.
func (a *assembler) cond(c ArgCond, fail label) {
	type word struct{ off, mask, value uint32 }
	var words []word
	base := uint32(offArgs + 8*c.Arg)
	if m := uint32(c.Mask >> 32); m != 0 {
		words = append(words, word{base + 4, m, uint32(c.Value >> 32)})
	}
	if m := uint32(c.Mask); m != 0 {
		words = append(words, word{base, m, uint32(c.Value)})
	}
	load := func(w word) {
		a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, w.off)
		if w.mask != 0xffffffff {
			a.stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, w.mask)
		}
	}
	const jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	if c.Op == CmpEq {
		// Holds when every word matches.
		for _, w := range words {
			load(w)
			a.jumpNext(jeq, w.value, fail, false)
		}
		return
	}
	// CmpNe holds when some word differs.
	pass := a.newLabel()
	for i, w := range words {
		load(w)
		if i == len(words)-1 {
			a.jump(jeq, w.value, fail, pass)
		} else {
			a.jumpNext(jeq, w.value, pass, false)
		}
	}
	a.bind(pass)
}

func (a *assembler) assemble() ([]unix.SockFilter, error) {
	// far[i] records which branches of jump i need a trampoline. Marking
	// only grows, so the loop ends.
	far := make([][2]bool, len(a.items))
	labelPC := make([]int, a.nlabels)
	itemPC := make([]int, len(a.items))
	width := func(i int) int {
		switch a.items[i].kind {
		case itemLabel:
			return 0
		case itemJump:
			n := 1
			for _, f := range far[i] {
				if f {
					n++
				}
			}
			return n
		}
		return 1
	}
	var size int
	for {
		for l := range labelPC {
			labelPC[l] = -1
		}
		pc := 0
		for i, it := range a.items {
			itemPC[i] = pc
			if it.kind == itemLabel {
				labelPC[it.jt] = pc
			}
			pc += width(i)
		}
		size = pc
		// Check every jump against this layout; marks take effect in the
		// next one.
		changed := false
		for i, it := range a.items {
			pc := itemPC[i]
			if it.kind == itemJump {
				for b, l := range [2]label{it.jt, it.jf} {
					if labelPC[l] < 0 {
						return nil, fmt.Errorf("seccomp: internal error: unbound label %d", l)
					}
					off := labelPC[l] - (pc + 1)
					if off < 0 {
						return nil, fmt.Errorf("seccomp: internal error: backward jump at item %d pc %d to label %d at %d", i, pc, l, labelPC[l])
					}
					if off > 255 && !far[i][b] {
						far[i][b] = true
						changed = true
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	if size > maxInsns {
		return nil, fmt.Errorf("seccomp: program has %d instructions, the kernel takes at most %d", size, maxInsns)
	}

	prog := make([]unix.SockFilter, 0, size)
	jaTo := func(l label) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(labelPC[l] - (len(prog) + 1))}
	}
	for i, it := range a.items {
		switch it.kind {
		case itemLabel:
		case itemStmt:
			prog = append(prog, unix.SockFilter{Code: it.code, K: it.k})
		case itemJA:
			prog = append(prog, jaTo(it.jt))
		case itemJump:
			pc := len(prog)
			ins := unix.SockFilter{Code: it.code, K: it.k}
			var tramps []label
			for b, l := range [2]label{it.jt, it.jf} {
				var off int
				if far[i][b] {
					off = len(tramps) // the trampolines follow in order
					tramps = append(tramps, l)
				} else {
					off = labelPC[l] - (pc + 1)
				}
				if b == 0 {
					ins.Jt = uint8(off)
				} else {
					ins.Jf = uint8(off)
				}
			}
			prog = append(prog, ins)
			for _, l := range tramps {
				prog = append(prog, jaTo(l))
			}
		}
	}
	return prog, nil
}
