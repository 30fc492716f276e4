package seccomp

import (
	"errors"
	"fmt"
	"syscall"
)

// Return values of a seccomp filter (linux/seccomp.h). Only the two the
// filter may use are named: every other action kills, traps or stops, and
// the filter must never do that to the thread it runs on.
const (
	retAllow uint32 = 0x7fff0000 // SECCOMP_RET_ALLOW
	retErrno uint32 = 0x00050000 // SECCOMP_RET_ERRNO, errno in the low 16 bits
)

// Action is what the filter does with a syscall: allow it, or fail it with
// an errno. There is deliberately no kill action (see the package doc).
// The value is the seccomp return value.
type Action uint32

// ActAllow lets the syscall run.
const ActAllow = Action(retAllow)

// ActErrno fails the syscall with errno e without running it.
func ActErrno(e syscall.Errno) Action {
	return Action(retErrno | uint32(e)&0xffff)
}

// Ret is the seccomp return value of the action.
func (a Action) Ret() uint32 { return uint32(a) }

// Errno is the errno an errno action returns, and whether a is one.
func (a Action) Errno() (syscall.Errno, bool) {
	if uint32(a)&0xffff0000 != retErrno {
		return 0, false
	}
	return syscall.Errno(uint32(a) & 0xffff), true
}

func (a Action) String() string {
	if a == ActAllow {
		return "allow"
	}
	if e, ok := a.Errno(); ok {
		return fmt.Sprintf("errno(%d)", uint32(e))
	}
	return fmt.Sprintf("action(%#x)", uint32(a))
}

func (a Action) valid() bool {
	_, isErrno := a.Errno()
	return a == ActAllow || isErrno
}

// CmpOp is the comparison of an [ArgCond].
type CmpOp uint8

const (
	// CmpEq holds when arg & Mask == Value.
	CmpEq CmpOp = iota + 1
	// CmpNe holds when arg & Mask != Value.
	CmpNe
)

func (o CmpOp) String() string {
	switch o {
	case CmpEq:
		return "=="
	case CmpNe:
		return "!="
	}
	return fmt.Sprintf("CmpOp(%d)", uint8(o))
}

// ArgCond compares syscall argument Arg (0 to 5) masked with Mask to Value:
// (arg & Mask) Op Value. Every comparison is a masked one; the constructors
// give the usual forms. A 32-bit comparison is a mask that covers only the
// low 32 bits, so whatever a caller puts in the high bits is ignored, as the
// kernel ignores it for int arguments.
type ArgCond struct {
	Arg   uint
	Op    CmpOp
	Mask  uint64
	Value uint64
}

const low32 = 0xffffffff

// ArgEq holds when argument arg equals v on all 64 bits.
func ArgEq(arg uint, v uint64) ArgCond { return ArgCond{arg, CmpEq, ^uint64(0), v} }

// ArgEq32 holds when the low 32 bits of argument arg equal v.
func ArgEq32(arg uint, v uint32) ArgCond { return ArgCond{arg, CmpEq, low32, uint64(v)} }

// ArgNe holds when argument arg differs from v in any of its 64 bits.
func ArgNe(arg uint, v uint64) ArgCond { return ArgCond{arg, CmpNe, ^uint64(0), v} }

// ArgNe32 holds when the low 32 bits of argument arg differ from v.
func ArgNe32(arg uint, v uint32) ArgCond { return ArgCond{arg, CmpNe, low32, uint64(v)} }

// ArgMaskedEq holds when arg & mask == v.
func ArgMaskedEq(arg uint, mask, v uint64) ArgCond { return ArgCond{arg, CmpEq, mask, v} }

// ArgMaskedEq32 holds when arg & mask == v, looking at the low 32 bits only.
func ArgMaskedEq32(arg uint, mask, v uint32) ArgCond {
	return ArgCond{arg, CmpEq, uint64(mask), uint64(v)}
}

// ArgMaskedNe holds when arg & mask != v. ArgMaskedNe(i, flags, 0) is "any
// of flags is set".
func ArgMaskedNe(arg uint, mask, v uint64) ArgCond { return ArgCond{arg, CmpNe, mask, v} }

// ArgMaskedNe32 is [ArgMaskedNe] on the low 32 bits.
func ArgMaskedNe32(arg uint, mask, v uint32) ArgCond {
	return ArgCond{arg, CmpNe, uint64(mask), uint64(v)}
}

// Holds reports whether the condition holds for the arguments args.
func (c ArgCond) Holds(args [6]uint64) bool {
	eq := args[c.Arg]&c.Mask == c.Value
	return eq == (c.Op == CmpEq)
}

func (c ArgCond) String() string {
	return fmt.Sprintf("arg%d&%#x %v %#x", c.Arg, c.Mask, c.Op, c.Value)
}

func (c ArgCond) validate() error {
	switch {
	case c.Arg > 5:
		return fmt.Errorf("argument %d out of range (syscalls have 6)", c.Arg)
	case c.Op != CmpEq && c.Op != CmpNe:
		return fmt.Errorf("unknown comparison %v", c.Op)
	case c.Mask == 0:
		// Always true or always false: certainly a mistake.
		return errors.New("zero mask")
	case c.Value&^c.Mask != 0:
		// arg&Mask can never have those bits: also a mistake.
		return fmt.Errorf("value %#x has bits outside mask %#x", c.Value, c.Mask)
	}
	return nil
}

// Rule says what happens to Syscall (its Linux name, such as "openat") when
// every condition in Cond holds (an empty Cond always holds).
//
// The rules of one syscall are tried in order and the first one that matches
// decides; a syscall none of whose rules match, or that has no rule, is
// allowed. So an exception is an [ActAllow] rule placed before the rule that
// refuses the rest.
type Rule struct {
	Syscall string
	Cond    []ArgCond
	Action  Action
}

// Matches reports whether every condition of the rule holds for args.
func (r Rule) Matches(args [6]uint64) bool {
	for _, c := range r.Cond {
		if !c.Holds(args) {
			return false
		}
	}
	return true
}

func (r Rule) validate() error {
	if r.Syscall == "" {
		return errors.New("rule without a syscall name")
	}
	if !r.Action.valid() {
		return fmt.Errorf("%s: action %v is neither allow nor errno", r.Syscall, r.Action)
	}
	for _, c := range r.Cond {
		if err := c.validate(); err != nil {
			return fmt.Errorf("%s: %w", r.Syscall, err)
		}
	}
	return nil
}

// Decide is the reference meaning of a rule list: the action the rules give
// to syscall name with arguments args, before any BPF is involved. The
// architecture check is not part of it (Compile adds that).
func Decide(rules []Rule, name string, args [6]uint64) Action {
	for _, r := range rules {
		if r.Syscall == name && r.Matches(args) {
			return r.Action
		}
	}
	return ActAllow
}
