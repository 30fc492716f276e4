package bpfvm

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Data is struct seccomp_data.
type Data struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// dataSize is sizeof(struct seccomp_data).
const dataSize = 64

// maxInsns is BPF_MAXINSNS.
const maxInsns = 4096

// bytes lays d out as the kernel does, in native (little-endian on every
// architecture this module supports) byte order.
func (d Data) bytes() [dataSize]byte {
	var b [dataSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(d.Nr))
	le.PutUint32(b[4:], d.Arch)
	le.PutUint64(b[8:], d.InstructionPointer)
	for i, a := range d.Args {
		le.PutUint64(b[16+8*i:], a)
	}
	return b
}

const (
	codeLdAbs  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	codeLdLen  = unix.BPF_LD | unix.BPF_W | unix.BPF_LEN
	codeLdxLen = unix.BPF_LDX | unix.BPF_W | unix.BPF_LEN
	codeLdImm  = unix.BPF_LD | unix.BPF_IMM
	codeLdxImm = unix.BPF_LDX | unix.BPF_IMM
	codeLdMem  = unix.BPF_LD | unix.BPF_MEM
	codeLdxMem = unix.BPF_LDX | unix.BPF_MEM
	codeSt     = unix.BPF_ST
	codeStx    = unix.BPF_STX
	codeRetK   = unix.BPF_RET | unix.BPF_K
	codeRetA   = unix.BPF_RET | unix.BPF_A
	codeTax    = unix.BPF_MISC | unix.BPF_TAX
	codeTxa    = unix.BPF_MISC | unix.BPF_TXA
	codeJa     = unix.BPF_JMP | unix.BPF_JA
	codeNeg    = unix.BPF_ALU | unix.BPF_NEG
)

// Validate checks prog as the kernel's loader would: length 1 to 4096,
// only the opcodes seccomp allows, absolute loads aligned and inside
// seccomp_data, jumps inside the program, no division by a constant zero,
// scratch memory written before it is read on every path, a return last.
func Validate(prog []unix.SockFilter) error {
	n := len(prog)
	if n == 0 || n > maxInsns {
		return fmt.Errorf("bpfvm: program length %d out of range 1..%d", n, maxInsns)
	}
	for pc, ins := range prog {
		if err := checkInsn(prog, pc, ins); err != nil {
			return err
		}
	}
	switch prog[n-1].Code {
	case codeRetK, codeRetA:
	default:
		return fmt.Errorf("bpfvm: last instruction %#04x is not a return", prog[n-1].Code)
	}
	return checkMemory(prog)
}

func checkInsn(prog []unix.SockFilter, pc int, ins unix.SockFilter) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("bpfvm: instruction %d (code %#04x): %s", pc, ins.Code, fmt.Sprintf(format, a...))
	}
	target := func(off uint32) error {
		if uint64(pc)+1+uint64(off) >= uint64(len(prog)) {
			return bad("jump out of the program")
		}
		return nil
	}
	switch ins.Code {
	case codeLdAbs:
		if ins.K >= dataSize || ins.K&3 != 0 {
			return bad("load of offset %d outside seccomp_data or unaligned", ins.K)
		}
	case codeLdLen, codeLdxLen, codeLdImm, codeLdxImm, codeRetK, codeRetA, codeTax, codeTxa, codeNeg:
	case codeLdMem, codeLdxMem, codeSt, codeStx:
		if ins.K >= 16 {
			return bad("scratch slot %d out of range", ins.K)
		}
	case codeJa:
		return target(ins.K)
	default:
		switch ins.Code & 0x07 {
		case unix.BPF_ALU:
			switch ins.Code &^ unix.BPF_X {
			case unix.BPF_ALU | unix.BPF_ADD, unix.BPF_ALU | unix.BPF_SUB, unix.BPF_ALU | unix.BPF_MUL,
				unix.BPF_ALU | unix.BPF_DIV, unix.BPF_ALU | unix.BPF_AND, unix.BPF_ALU | unix.BPF_OR,
				unix.BPF_ALU | unix.BPF_XOR, unix.BPF_ALU | unix.BPF_LSH, unix.BPF_ALU | unix.BPF_RSH:
				switch ins.Code {
				case unix.BPF_ALU | unix.BPF_DIV | unix.BPF_K:
					if ins.K == 0 {
						return bad("division by zero")
					}
				case unix.BPF_ALU | unix.BPF_LSH | unix.BPF_K, unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K:
					if ins.K >= 32 {
						return bad("shift by %d", ins.K)
					}
				}
				return nil
			}
		case unix.BPF_JMP:
			switch ins.Code &^ unix.BPF_X {
			case unix.BPF_JMP | unix.BPF_JEQ, unix.BPF_JMP | unix.BPF_JGT,
				unix.BPF_JMP | unix.BPF_JGE, unix.BPF_JMP | unix.BPF_JSET:
				if err := target(uint32(ins.Jt)); err != nil {
					return err
				}
				return target(uint32(ins.Jf))
			}
		}
		return bad("opcode not allowed in a seccomp filter")
	}
	return nil
}

// checkMemory mirrors the kernel's check_load_and_stores: a scratch slot may
// only be read after every path to the read has written it.
func checkMemory(prog []unix.SockFilter) error {
	const all = 0xffff
	valid := make([]uint16, len(prog))
	for i := range valid {
		valid[i] = all
	}
	memvalid := uint16(0)
	for pc, ins := range prog {
		memvalid &= valid[pc]
		switch ins.Code {
		case codeSt, codeStx:
			memvalid |= 1 << ins.K
		case codeLdMem, codeLdxMem:
			if memvalid&(1<<ins.K) == 0 {
				return fmt.Errorf("bpfvm: instruction %d reads scratch slot %d before it is written", pc, ins.K)
			}
		case codeJa:
			valid[pc+1+int(ins.K)] &= memvalid
			memvalid = all
		case codeRetK, codeRetA:
			memvalid = all
		default:
			if ins.Code&0x07 == unix.BPF_JMP {
				valid[pc+1+int(ins.Jt)] &= memvalid
				valid[pc+1+int(ins.Jf)] &= memvalid
				memvalid = all
			}
		}
	}
	return nil
}

// Run validates prog and runs it on d, returning the seccomp return value.
func Run(prog []unix.SockFilter, d Data) (uint32, error) {
	p, err := Load(prog)
	if err != nil {
		return 0, err
	}
	return p.Run(d)
}

// Program is a validated program, to run on many inputs.
type Program struct {
	insns []unix.SockFilter
}

// Load validates prog (see [Validate]) and keeps a copy of it.
func Load(prog []unix.SockFilter) (*Program, error) {
	if err := Validate(prog); err != nil {
		return nil, err
	}
	return &Program{insns: append([]unix.SockFilter(nil), prog...)}, nil
}

// Run runs the program on d and returns the seccomp return value.
func (p *Program) Run(d Data) (uint32, error) {
	return run(p.insns, d)
}

// run executes a validated program.
func run(prog []unix.SockFilter, d Data) (uint32, error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case codeLdAbs:
			a = binary.LittleEndian.Uint32(data[ins.K:])
		case codeLdLen:
			a = dataSize
		case codeLdxLen:
			x = dataSize
		case codeLdImm:
			a = ins.K
		case codeLdxImm:
			x = ins.K
		case codeLdMem:
			a = mem[ins.K]
		case codeLdxMem:
			x = mem[ins.K]
		case codeSt:
			mem[ins.K] = a
		case codeStx:
			mem[ins.K] = x
		case codeRetK:
			return ins.K, nil
		case codeRetA:
			return a, nil
		case codeTax:
			x = a
		case codeTxa:
			a = x
		case codeNeg:
			a = -a
		case codeJa:
			pc += int(ins.K)
		default:
			operand := ins.K
			if ins.Code&unix.BPF_X != 0 {
				operand = x
			}
			switch ins.Code & 0x07 {
			case unix.BPF_ALU:
				switch ins.Code & 0xf0 {
				case unix.BPF_ADD:
					a += operand
				case unix.BPF_SUB:
					a -= operand
				case unix.BPF_MUL:
					a *= operand
				case unix.BPF_DIV:
					if operand == 0 {
						return 0, nil // the kernel ends the program with 0
					}
					a /= operand
				case unix.BPF_AND:
					a &= operand
				case unix.BPF_OR:
					a |= operand
				case unix.BPF_XOR:
					a ^= operand
				case unix.BPF_LSH:
					a <<= operand & 31
				case unix.BPF_RSH:
					a >>= operand & 31
				default:
					return 0, fmt.Errorf("bpfvm: instruction %d: unknown opcode %#04x", pc, ins.Code)
				}
			case unix.BPF_JMP:
				var taken bool
				switch ins.Code & 0xf0 {
				case unix.BPF_JEQ:
					taken = a == operand
				case unix.BPF_JGT:
					taken = a > operand
				case unix.BPF_JGE:
					taken = a >= operand
				case unix.BPF_JSET:
					taken = a&operand != 0
				default:
					return 0, fmt.Errorf("bpfvm: instruction %d: unknown opcode %#04x", pc, ins.Code)
				}
				if taken {
					pc += int(ins.Jt)
				} else {
					pc += int(ins.Jf)
				}
			default:
				return 0, fmt.Errorf("bpfvm: instruction %d: unknown opcode %#04x", pc, ins.Code)
			}
		}
	}
	return 0, fmt.Errorf("bpfvm: program ran off its end")
}
