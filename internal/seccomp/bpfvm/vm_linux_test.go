package bpfvm

import (
	"testing"

	"golang.org/x/sys/unix"
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
}

func TestRun(t *testing.T) {
	// Returns (args[1].hi ^ nr) + 3, via scratch memory and X, if arch is
	// 7; 99 if args[0] has bit 4; else 1.
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 7, 3, 0),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 16),
		jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, 0x10, 9, 11),
		stmt(unix.BPF_JMP|unix.BPF_JA, 0), // never reached
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0),
		stmt(unix.BPF_ST, 3),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 28),
		stmt(unix.BPF_LDX|unix.BPF_MEM, 3),
		stmt(unix.BPF_ALU|unix.BPF_XOR|unix.BPF_X, 0),
		stmt(unix.BPF_ALU|unix.BPF_ADD|unix.BPF_K, 3),
		stmt(unix.BPF_RET|unix.BPF_A, 0),
		stmt(unix.BPF_JMP|unix.BPF_JA, 0),
		stmt(unix.BPF_RET|unix.BPF_K, 99),
		stmt(unix.BPF_JMP|unix.BPF_JA, 0),
		stmt(unix.BPF_RET|unix.BPF_K, 1),
	}
	for _, c := range []struct {
		d    Data
		want uint32
	}{
		{Data{Nr: 5, Arch: 7, Args: [6]uint64{0, 0xab_00000000}}, (0xab ^ 5) + 3},
		{Data{Nr: 5, Arch: 8, Args: [6]uint64{0x10}}, 99},
		{Data{Nr: 5, Arch: 8, Args: [6]uint64{0x1_00000010}}, 99},
		{Data{Nr: 5, Arch: 8, Args: [6]uint64{0x1}}, 1},
	} {
		got, err := Run(prog, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%+v: got %d, want %d", c.d, got, c.want)
		}
	}
	jgt := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0),
		jump(unix.BPF_JMP|unix.BPF_JGT|unix.BPF_K, 10, 0, 1),
		stmt(unix.BPF_RET|unix.BPF_K, 1),
		jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, 10, 0, 1),
		stmt(unix.BPF_RET|unix.BPF_K, 2),
		stmt(unix.BPF_RET|unix.BPF_K, 3),
	}
	for nr, want := range map[int32]uint32{11: 1, 10: 2, 9: 3, -1: 1} {
		if got, err := Run(jgt, Data{Nr: nr}); err != nil || got != want {
			t.Errorf("nr %d: got %d, %v; want %d", nr, got, err, want)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	ret := stmt(unix.BPF_RET|unix.BPF_K, 0)
	bad := map[string][]unix.SockFilter{
		"empty":          nil,
		"no return":      {stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0)},
		"load past data": {stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 64), ret},
		"unaligned load": {stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 2), ret},
		"byte load":      {stmt(unix.BPF_LD|unix.BPF_B|unix.BPF_ABS, 0), ret},
		"indirect load":  {stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_IND, 0), ret},
		"jump out":       {jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, 0), ret},
		"ja out":         {stmt(unix.BPF_JMP|unix.BPF_JA, 1), ret},
		"div by zero":    {stmt(unix.BPF_ALU|unix.BPF_DIV|unix.BPF_K, 0), ret},
		"mod":            {stmt(unix.BPF_ALU|unix.BPF_MOD|unix.BPF_K, 3), ret},
		"shift 32":       {stmt(unix.BPF_ALU|unix.BPF_LSH|unix.BPF_K, 32), ret},
		"unknown":        {stmt(0xff, 0), ret},
		"uninit mem":     {stmt(unix.BPF_LD|unix.BPF_MEM, 0), ret},
		"mem slot 16":    {stmt(unix.BPF_ST, 16), ret},
		"mem one path": {
			jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, 1),
			stmt(unix.BPF_ST, 2),
			stmt(unix.BPF_LD|unix.BPF_MEM, 2),
			ret,
		},
	}
	for name, prog := range bad {
		if err := Validate(prog); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Run(prog, Data{}); err == nil {
			t.Errorf("%s: ran", name)
		}
	}
	if _, err := Run(make([]unix.SockFilter, 4097), Data{}); err == nil {
		t.Error("ran a program over 4096 instructions")
	}
}
