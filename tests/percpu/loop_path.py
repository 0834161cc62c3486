#!/usr/bin/env python3
"""Instructions executed by one iteration of a benchmark loop on its
committing path, from `objdump -d --no-show-raw-insn` output: starts at
START, falls through, takes `jmp`s and the conditional branches listed in
TAKEN (the loop's back edge among them), stops when back at START. Prints
the path, the instruction count and the macro-op count (a cmp, test, add,
sub, and, inc or dec followed by a conditional branch counts once: the pair
fuses). BENCHMARKS.md's instruction counts come from it.

Usage: loop_path.py DISASSEMBLY START_HEX [TAKEN_HEX ...]
e.g.   objdump -d --no-show-raw-insn -C target/release/rseq-libc > d.txt
       tests/percpu/loop_path.py d.txt 2e460 2e49b
or:    loop_path.py --functions DISASSEMBLY NAME...: for each function NAME
       (a benchmark loop: one `for' around the operation, the operation's
       retry and error paths out of line or forward), the path from the
       lowest target of its backward conditional branches (the loop's head),
       falling
       through every forward conditional branch, back to that head; prints
       "NAME instructions macro-ops" per function (add -v for the paths);
       NAME@jmp: the head is the lowest target of a backward `jmp', and
       every conditional branch falls through; NAME@inner: the head is the
       target of the shortest backward conditional branch (the inner loop
       of a nest, e.g. the ring's batch of writes).

x86-64 and aarch64 disassembly (`aarch64-linux-gnu-objdump -d
--no-show-raw-insn'): aarch64's unconditional branch is `b', its
conditional ones `b.COND', `cbz', `cbnz', `tbz', `tbnz'. Macro-ops apply
x86-64's fusion rule; on aarch64 they equal the instruction count.
       --arch riscv64 (first): a RISC-V disassembly (conditional branches
       b*, `j' taken; local `.L' symbols are not functions); macro-ops are
       then the instructions (no fusion counted).
"""
import re
import sys

FUSABLE = ('cmp', 'test', 'add', 'sub', 'and', 'inc', 'dec')
RISCV = False  # --arch riscv64
RISCV_COND = ('beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu', 'beqz', 'bnez', 'bltz', 'bgez',
              'blez', 'bgtz', 'bgt', 'ble', 'bgtu', 'bleu')


def parse(path):
    ins, order, funcs, cur = {}, [], {}, None
    with open(path) as f:
        for line in f:
            h = re.match(r'([0-9a-f]+) <([^>]+)>:', line)
            if h and RISCV and h.group(2).startswith('.L'):
                continue
            if h:
                cur = h.group(2)
                funcs[cur] = []
                continue
            m = re.match(r'\s*([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
            if m:
                a = int(m.group(1), 16)
                ins[a] = (m.group(2), m.group(3))
                order.append(a)
                if cur is not None:
                    funcs[cur].append((a, m.group(2), m.group(3)))
    return ins, order, funcs


def target(args):
    if RISCV:
        m = re.search(r'([0-9a-f]+) <', args)
        return int(m.group(1), 16) if m else None
    # objdump writes a direct target as "ADDR <symbol+off>" (after the
    # register operands on aarch64's cbz/tbz).
    m = re.search(r'([0-9a-f]+) <', args) or re.match(r'([0-9a-f]+)', args)
    return int(m.group(1), 16) if m else None


def is_jump(op):
    """An unconditional direct branch (x86-64 jmp, aarch64 b, riscv64 j)."""
    return op == 'j' if RISCV else op in ('jmp', 'b')


def is_cond(op):
    """A conditional branch (x86-64 jCC, aarch64 b.CC, cbz/cbnz, tbz/tbnz)."""
    if RISCV:
        return op in RISCV_COND
    return ((op.startswith('j') and op != 'jmp') or op.startswith('b.')
            or op in ('cbz', 'cbnz', 'tbz', 'tbnz'))


def macro_ops(path):
    if RISCV:
        return len(path)
    mops, prev = 0, False
    for _, op, _ in path:
        if is_cond(op) and op.startswith('j') and prev:
            prev = False
            continue
        mops += 1
        prev = op.startswith(FUSABLE) and not op.startswith('andn')
    return mops


def walk(ins, nxt, start, taken, stop_at_back_edge=False):
    pc, path = start, []
    while True:
        if pc not in ins:  # left the function (a cold part, a tail call)
            return None
        op, args = ins[pc]
        path.append((pc, op, args))
        if len(path) > 1000 or op.startswith('ret'):
            return None
        cond = is_cond(op)
        if is_jump(op) or (cond and pc in taken):
            pc = target(args)
        elif cond and stop_at_back_edge and target(args) == start:
            pc = start
        else:
            pc = nxt[pc]
        if pc == start:
            return path


def main():
    global RISCV
    args = sys.argv[1:]
    if args[:2] == ['--arch', 'riscv64']:
        RISCV, args = True, args[2:]
    if len(args) >= 2 and args[0] == '--functions':
        verbose = '-v' in args
        names = [a for a in args[2:] if a != '-v']
        _, _, funcs = parse(args[1])
        for name in names:
            # NAME@jmp: a loop whose back edge is an unconditional jmp (the
            # loop's head: the lowest target of a backward jmp), with
            # conditional branches back to that head on other paths (LLVM's
            # layout of the Rust pool loop): every conditional branch falls
            # through.
            by_jmp = name.endswith('@jmp')
            inner = name.endswith('@inner')
            fname = name.split('@')[0]
            if not funcs.get(fname):
                print(f"{fname} missing")
                continue
            # The function's own instructions only: in an object file or
            # an archive, every section (Rust's one per function) starts
            # at address 0.
            ins = {a: (op, a_args) for a, op, a_args in funcs[fname]}
            addrs = [a for a, _, _ in funcs[fname]]
            nxt = dict(zip(addrs, addrs[1:]))
            lo, hi = addrs[0], addrs[-1]
            head, span = None, None
            for a in addrs:
                op, a_args = ins[a]
                back = is_jump(op) if by_jmp else is_cond(op)
                t = target(a_args) if back else None
                if t is None or not lo <= t < a:
                    continue
                if inner:
                    if span is None or a - t < span:
                        head, span = t, a - t
                elif head is None or t < head:
                    head = t
            path = walk(ins, nxt, head, set(), not by_jmp) if head is not None else None
            name = fname
            if path is None:
                print(f"{name} no-loop")
                continue
            if verbose:
                for a, op, a_args in path:
                    print(f"  {a:x}: {op} {a_args}")
            print(f"{name} {len(path)} {macro_ops(path)}")
        return
    if len(args) < 2:
        sys.exit(__doc__)
    start = int(args[1], 16)
    taken = {int(a, 16) for a in args[2:]}
    ins, order, _ = parse(args[0])
    nxt = dict(zip(order, order[1:]))
    path = walk(ins, nxt, start, taken)
    if path is None:
        sys.exit("no way back to START: list the taken branches")
    for a, op, a_args in path:
        print(f"  {a:x}: {op} {a_args}")
    print(f"instructions {len(path)}, macro-ops {macro_ops(path)}")


if __name__ == '__main__':
    main()
