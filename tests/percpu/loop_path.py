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
"""
import re
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    start = int(sys.argv[2], 16)
    taken = {int(a, 16) for a in sys.argv[3:]}
    ins, order = {}, []
    with open(sys.argv[1]) as f:
        for line in f:
            m = re.match(r'\s*([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
            if m:
                a = int(m.group(1), 16)
                ins[a] = (m.group(2), m.group(3))
                order.append(a)
    nxt = dict(zip(order, order[1:]))
    pc, path = start, []
    while True:
        op, args = ins[pc]
        path.append((pc, op, args))
        if len(path) > 1000:
            sys.exit("no way back to START: list the taken branches")
        if op == 'jmp' or (op.startswith('j') and pc in taken):
            pc = int(re.match(r'([0-9a-f]+)', args).group(1), 16)
        else:
            pc = nxt[pc]
        if pc == start:
            break
    fusable = ('cmp', 'test', 'add', 'sub', 'and', 'inc', 'dec')
    mops, prev = 0, False
    for _, op, _ in path:
        if op.startswith('j') and op != 'jmp' and prev:
            prev = False
            continue
        mops += 1
        prev = op.startswith(fusable) and not op.startswith('andn')
    for a, op, args in path:
        print(f"  {a:x}: {op} {args}")
    print(f"instructions {len(path)}, macro-ops {mops}")


if __name__ == '__main__':
    main()
