#include "textflag.h"

// func getpid80() int64
TEXT ·getpid80(SB), NOSPLIT, $0-8
	MOVL	$20, AX // __NR_getpid in arch/x86/entry/syscalls/syscall_32.tbl
	INT	$0x80
	MOVQ	AX, ret+0(FP)
	RET
