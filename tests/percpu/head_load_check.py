#!/usr/bin/env python3
"""The head load of a per-CPU write addresses the head word through a base
register alone, never base + index (BENCHMARKS.md, run H).

A ring write or a pool free loads the head word, then a restartable
sequence compares it (`cmp %rX,(%rB)`) and commits through the same
register (`mov %rN,(%rB)`). In a burst of writes each head load reads the
previous commit; the benchmark machine's cores hand a store's value early
only to a load addressed through a base register (plus displacement), so
a head load like `mov (%rRing,%rOff,1),%rX` costs the Rust ring write
0.2-0.4 ns. This reads `objdump -d --no-show-raw-insn` output, finds in
each named function every section (the `rseq_cs` publish `mov %rT,0x4(%rC)`
after `lea ...(%rip),%rT`) whose compare is `cmp %rX,(%rB)` followed by a
commit `mov %rN,(%rB)`, follows %rX back (through register copies) to the
load that produced it before the publish, and fails when that load has an
index register. Static: no timing.

Usage: head_load_check.py DISASSEMBLY FUNCTION[|FUNCTION]...
(A|B: the first of them holding such a section.) Prints one line per
function ("ok ..." or "FAIL ..."); exit 1 on a FAIL or
a function with no such section.
"""
import re
import sys

REG = r'%r[a-z0-9]+'


def functions(path):
    funcs, cur = {}, None
    with open(path) as f:
        for line in f:
            h = re.match(r'[0-9a-f]+ <([^>]+)>:', line)
            if h:
                cur = funcs.setdefault(h.group(1), [])
                continue
            m = re.match(r'\s*([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
            if m and cur is not None:
                cur.append((int(m.group(1), 16), m.group(2), m.group(3).split('#')[0].strip()))
    return funcs


def operands(args):
    """Split AT&T operands at top-level commas."""
    out, depth, cur = [], 0, ''
    for ch in args:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def plain_base(mem):
    """The base register of `(%rB)` / `disp(%rB)`, or None."""
    m = re.fullmatch(r'(?:-?0x[0-9a-f]+|-?[0-9]+)?\((' + REG + r')\)', mem)
    return m.group(1) if m else None


def producer(body, k, reg):
    """Follow `reg` back from instruction k: the load that produced it."""
    for j in range(k - 1, -1, -1):
        _, op, args = body[j]
        ops = operands(args)
        if len(ops) != 2 or ops[1] != reg or op.startswith(('cmp', 'test', 'bt')):
            continue  # not a write of reg
        if op.startswith('mov') and re.fullmatch(REG, ops[0]):
            reg = ops[0]
            continue
        if op == 'mov' and '(' in ops[0]:
            return body[j]
        return None
    return None


def check(body):
    """[(ok, text)] for each section of `body` comparing a head word."""
    found = []
    for k in range(1, len(body)):
        _, op, args = body[k]
        ops = operands(args)
        prev = body[k - 1]
        if not (op == 'mov' and len(ops) == 2 and re.fullmatch(r"0x[48]\(" + REG + r"\)", ops[1])
                and prev[1] == 'lea' and '(%rip)' in prev[2]
                and operands(prev[2])[-1] == ops[0]):
            continue
        # The section: to the next publish (or the function's end).
        for j in range(k + 1, len(body)):
            a, op2, args2 = body[j]
            o2 = operands(args2)
            if op2 == 'lea' and '(%rip)' in args2:
                break
            if not (op2 == 'cmp' and len(o2) == 2 and re.fullmatch(REG, o2[0])):
                continue
            base = plain_base(o2[1])
            if base is None or o2[1] != f'({base})':
                continue
            commit = any(b[1] == 'mov' and len(operands(b[2])) == 2
                         and operands(b[2])[1] == f'({base})'
                         and re.fullmatch(REG, operands(b[2])[0])
                         for b in body[j + 1:] if not (b[1] == 'lea' and '(%rip)' in b[2]))
            if not commit:
                continue
            load = producer(body, k - 1, o2[0])
            if load is None:
                continue
            src = operands(load[2])[0]
            where = f'section at {a:#x}: head {o2[0]} compared and committed through ({base}), ' \
                    f'loaded at {load[0]:#x} by "mov {load[2]}"'
            found.append((plain_base(src) is not None, where))
            break
    return found


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    funcs = functions(argv[1])
    bad = 0
    for alternatives in argv[2:]:
        # "A|B": the first of A, B present with a section (a compiler may
        # leave a static inline function out of line: its caller only
        # jumps to it).
        present = [n for n in alternatives.split('|') if n in funcs]
        if not present:
            print(f'FAIL {alternatives}: not in {argv[1]}')
            bad += 1
            continue
        name, res = present[0], []
        for n in present:
            res = check(funcs[n])
            if res:
                name = n
                break
        if not res:
            print(f'FAIL {name}: no section comparing and committing a head word found')
            bad += 1
        elif all(ok for ok, _ in res):
            print(f'ok {name}: ' + '; '.join(w for _, w in res))
        else:
            print(f'FAIL {name}: head load with an index register: '
                  + '; '.join(w for ok, w in res if not ok))
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
