#!/usr/bin/env python3
"""Generates the per-CPU restartable sequences of one architecture, for
Rust (percpu/src/arch/ARCH.rs) and for C (headers/rseq-percpu-arch/ARCH.h),
from its template, percpu/seq/ARCH.seq (the sequences), and the wrappers
shared by every architecture, percpu/seq/common.seq. docs/sequences.md describes the
template's format; this script is the format's definition.

Usage: scripts/gen-sequences.py [--check] [ARCH ...]
  (no ARCH: every percpu/seq/*.seq)
  --check: write nothing; exit 1, with a diff, when a committed generated
           file differs from what its template generates.

Python 3.7+ standard library only.
"""
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ_DIR = 'percpu/seq'
OUT = {'rust': 'percpu/src/arch/{arch}.rs', 'c': 'headers/rseq-percpu-arch/{arch}.h'}
# The C header's name where it is not the template's: riscv.h, as the
# kernel selftests' rseq-riscv.h (the header refuses other widths).
C_HEADER_ARCH = {'riscv64': 'riscv'}
OPERAND = re.compile(r'\{([a-z_][a-z0-9_]*)(?::([a-z]))?\}')
KINDS = ('in', 'imm', 'inout', 'out', 'scratch', 'vscratch')


class TemplateError(Exception):
    pass


class Seq:
    """One critical section: its operands and its body in neutral syntax."""

    def __init__(self, name, where):
        self.name, self.where = name, where
        self.operands = []       # (name, kind); 'area' stands for the area operands
        self.lines = []          # (only_lang or None, text)
        self.end = None          # ('goto',) / ('enc', reg) / ('set', reg, abort, failed)
        self.inject = True
        self.c_order = None
        self.alias = None        # (sequence, call-site settings)      # C's operand order where it differs (register allocation follows it)

    def uses_failed(self):
        return any(re.search(r'\b5f\b', t) for _, t in self.lines)


def read_blocks(path):
    """A template file: blocks opened by '@@ KIND [NAME]' lines."""
    blocks, cur = [], None
    with open(path) as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if line.startswith('@@ '):
                words = line[3:].split()
                cur = {'kind': words[0], 'name': words[1] if len(words) > 1 else None,
                       'lines': [], 'at': '%s:%d' % (path, no)}
                blocks.append(cur)
            elif cur is None:
                if line.strip() and not line.startswith('#'):
                    raise TemplateError('%s:%d: text before the first @@ block' % (path, no))
            else:
                cur['lines'].append(line)
    return blocks


def parse(common, arch_path):
    """The wrappers (common.seq: '@@ rust' and '@@ c' blocks) and an
    architecture's template (its sequences, fragments, conventions and
    '@@ rust|c head|tail' text around the wrappers)."""
    t = {'rust': [], 'c': [], 'seqs': {}, 'frags': {}, 'conv': {'rust': {}, 'c': {}, 'arch': {}}}
    arch_blocks = read_blocks(arch_path)
    wrappers = read_blocks(common)
    for b in wrappers:
        if b['kind'] not in ('rust', 'c') or b['name']:
            raise TemplateError('%s: common.seq holds only @@ rust and @@ c blocks' % b['at'])
    for lang in ('rust', 'c'):
        t[lang] = ([b for b in arch_blocks if b['kind'] == lang and b['name'] == 'head']
                   + [b for b in wrappers if b['kind'] == lang]
                   + [b for b in arch_blocks if b['kind'] == lang and b['name'] == 'tail'])
    for b in arch_blocks:
        k = b['kind']
        if k in ('rust', 'c'):
            if b['name'] not in ('head', 'tail'):
                raise TemplateError('%s: an architecture has @@ %s head|tail blocks only' % (b['at'], k))
        elif k == 'conventions':
            lang = b['name']
            if lang not in t['conv']:
                raise TemplateError('%s: conventions for rust, c or arch' % b['at'])
            for line in b['lines']:
                if line.strip() and not line.lstrip().startswith('#'):
                    key, _, val = line.partition(':')
                    t['conv'][lang][key.strip()] = val.strip()
        elif k == 'fragment':
            t['frags'][b['name']] = [x.strip() for x in b['lines']
                                     if x.strip() and not x.lstrip().startswith('#')]
        elif k == 'seq':
            t['seqs'][b['name']] = parse_seq(b)
        else:
            raise TemplateError('%s: unknown block @@ %s' % (b['at'], k))
    return t


def parse_seq(b):
    s = Seq(b['name'], b['at'])
    for line in b['lines']:
        x = line.strip()
        if not x or x.startswith('#'):
            continue
        if x.startswith('@operands'):
            for w in x.split()[1:]:
                name, _, kind = w.partition(':')
                kind = kind or 'in'
                if kind not in KINDS and name != 'area':
                    raise TemplateError('%s: operand kind %s' % (s.where, kind))
                s.operands.append((name, kind))
        elif x.startswith('@c-order'):
            s.c_order = x.split()[1:]
        elif x.startswith('@alias '):
            name, opts = parse_call('@asm ' + x[len('@alias '):], s.where)
            s.alias = (name, opts)
        elif x == '@noinject':
            s.inject = False
        elif x.startswith('@end'):
            w = x.split(None, 2)
            if w[1] == 'goto':
                s.end = ('goto',)
            elif w[1] == 'enc':
                s.end = ('enc', w[2])
            elif w[1] == 'set':
                reg, rest = w[2].split(None, 1)
                abort, failed = [y.strip() for y in rest.split('|')]
                s.end = ('set', reg, abort, failed)
            else:
                raise TemplateError('%s: @end goto|enc|set' % s.where)
        elif x.startswith('@rust ') or x.startswith('@c '):
            lang, _, text = x[1:].partition(' ')
            s.lines.append((lang, text.strip()))
        else:
            s.lines.append((None, x))
    if s.end is None and s.alias is None:
        raise TemplateError('%s: no @end' % s.where)
    return s


class Lang:
    """Renders a sequence's neutral lines for one language."""

    def __init__(self, t, lang, seq, subst, form, area_check=None):
        self.t, self.lang, self.seq, self.subst, self.form = t, lang, seq, subst, form
        self.area_check = area_check
        if area_check not in (None, 'bound'):
            raise TemplateError('%s: area_check=%s (only bound)' % (seq.where, area_check))
        self.conv = t['conv'][lang]
        self.arch = t['conv']['arch']
        # C's asm goto cannot have outputs: its scratch operands are fixed
        # registers named by the conventions ('goto_tmp: %r11 e=%r11d').
        self.fixed = {}
        if lang == 'c' and form == 'goto':
            for name, kind in seq.operands:
                if kind in ('scratch', 'vscratch'):
                    spec = self.conv.get('goto_' + name)
                    if not spec:
                        raise TemplateError('%s: no c convention goto_%s' % (seq.where, name))
                    parts = spec.split()
                    regs = {None: parts[0]}
                    for p in parts[1:]:
                        m, _, r = p.partition('=')
                        regs[m] = r
                    self.fixed[name] = regs

    def expand(self, text):
        """Neutral text with the conventions' {@name} pieces and the
        immediate substitutions applied (still neutral syntax)."""
        for _ in range(4):
            text = re.sub(r'\{@([a-z_]+)\}', lambda m: self.conv_value(m.group(1)), text)
        for k, v in self.subst.items():
            text = re.sub(r'\{' + k + r'(:[a-z])?\}', v, text)
        return text

    def conv_value(self, key):
        if key in self.conv:
            return self.conv[key]
        if key in self.arch:
            return self.arch[key]
        raise TemplateError('%s: no convention %s for %s' % (self.seq.where, key, self.lang))

    def render(self, text):
        """One neutral asm line as this language's string literal."""
        text = self.expand(text)
        if self.lang == 'rust':
            return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '\\n"'
        text = text.replace('%', '%%')

        def op(m):
            name, mod = m.group(1), m.group(2)
            if name in ('aborted', 'failed'):
                return '%l[rseq_' + ('aborted' if name == 'aborted' else 'compare_failed') + ']'
            if name in self.fixed:
                r = self.fixed[name].get(mod)
                if r is None:
                    raise TemplateError('%s: no fixed register for {%s:%s}' % (self.seq.where, name, mod))
                return r.replace('%', '%%')
            cmod = ''
            if mod:
                cmod = self.conv_value('mod_' + mod)
            return '%' + cmod + '[' + name + ']'
        text = OPERAND.sub(op, text)
        return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '\\n\\t"'

    def lines_of(self, directive_lines):
        """Expands @begin/@check_*/@frag directives: a list of items, each
        ('asm', text) or ('frag', name) or ('mark', name)."""
        out = []
        for only, text in directive_lines:
            if only and only != self.lang:
                continue
            if text.startswith('@frag '):
                out.append(('frag', text.split()[1]))
            elif text in ('@checked', '@commit'):
                out.append(('mark', text[1:]))
            elif text.startswith('@'):
                w = text[1:].split()
                key = w[0]
                # `| area_check=bound' at the call: the caller's index mode
                # is cpu_id, whose unsigned bound check already refuses a
                # negative cpu_id (the stand-in, an unregistered area).
                if key == 'check_area' and self.area_check == 'bound':
                    continue
                val = self.conv_value(key)
                args = w[1:]
                for i, a in enumerate(args):
                    val = val.replace('$' + str(i + 1), a)
                for piece in [p.strip() for p in val.split(' / ') if p.strip()]:
                    out.append(('asm', piece))
                if key == 'begin':
                    out.append(('mark', 'begun'))
            else:
                out.append(('asm', text))
        return out

    def end_lines(self):
        s, j, w = self.seq, self.arch['jump'], self.arch['word']
        failed = s.uses_failed()
        end = s.end
        if end[0] == 'goto' and self.form == 'result':
            end = ('set', 'ret', self.conv['result_aborted'], self.conv['result_failed'])
        if end[0] == 'enc':
            end = ('set', end[1], self.conv['enc_aborted'], self.conv['enc_failed'])
        # The abort handler and the compare-failed exit: out of line in
        # __rseq_failure (the committing path falls through), or, where the
        # architecture's conditional branches reach too short for another
        # section (`failure: inline'), after the commit behind a branch
        # over them (9:), as librseq places them on aarch64.
        inline = self.arch.get('failure') == 'inline'
        out = [('asm', '3:')]
        if inline:
            out.append(('asm', j + ' 9f'))
        else:
            out.append(('asm', '.pushsection __rseq_failure, "ax"'))
        if end[0] == 'goto':
            out += [('frag', 'signature'), ('asm', '4:'), ('asm', j + ' {aborted}')]
            if failed:
                out += [('asm', '5:'), ('asm', j + ' {failed}')]
            if inline:
                out.append(('asm', '9:'))
        else:
            reg, abort, fail = end[1], end[2], end[3]
            sub = lambda x: x.replace('$reg', reg)
            back = j + (' 9f' if inline else ' 9b')
            if not inline:
                out.insert(1, ('asm', '9:'))
            out += [('frag', 'signature'), ('asm', '4:')]
            out += [('asm', sub(p.strip())) for p in abort.split(' / ') if p.strip()]
            out.append(('asm', back))
            if failed:
                out.append(('asm', '5:'))
                out += [('asm', sub(p.strip())) for p in fail.split(' / ') if p.strip()]
                if not inline:
                    out.append(('asm', back))
            if inline:
                out.append(('asm', '9:'))
        if not inline:
            out.append(('asm', '.popsection'))
        out += [('frag', 'descriptor'),
                ('asm', '.pushsection __rseq_exit_point_array, "awR"'),
                ('asm', w + ' 2b, 3b')]
        if failed:
            out.append(('asm', w + ' 2b, 5b'))
        out.append(('asm', '.popsection'))
        return out

    def item(self, it):
        kind, v = it
        if kind == 'frag':
            if v not in self.t['frags']:
                raise TemplateError('%s: no fragment %s' % (self.seq.where, v))
            return frag_ref(self.lang, v)
        return self.render(v)


def frag_ref(lang, name):
    return ('cs_' + name + '!()') if lang == 'rust' else ('RSEQ_PERCPU_ASM_' + name.upper())


def c_form(seq):
    """asm goto where C can: no output operand (scratch ones become fixed
    registers); otherwise the outcome in a register."""
    outs = [k for _, k in seq.operands if k in ('out', 'inout')]
    if not outs:
        return 'goto'
    return 'enc' if seq.end[0] == 'enc' else ('result' if seq.end[0] == 'goto' else 'set')


def parse_call(line, where):
    """'@asm NAME | k=v | ...': the sequence and its call-site settings."""
    parts = [p.strip() for p in line.strip()[len('@asm'):].split('|')]
    name, opts = parts[0], {}
    for p in parts[1:]:
        k, _, v = p.partition('=')
        opts[k.strip()] = v.strip()
    return name, opts


def area_of(conv, opts):
    """The area operands: the language's `area' convention, or the one
    the call names (`| area=@area_cpu')."""
    name = opts.get('area', '@area')[1:]
    if name not in conv:
        raise TemplateError('no convention %s' % name)
    return conv[name]


def immediates(t, opts):
    """`| inc=$1': the operand replaced by an immediate, written as the
    architecture writes one (its `imm' convention)."""
    return {k: t['conv']['arch']['imm'] % v[1:] for k, v in opts.items() if v.startswith('$')}


def resolve(t, seq, opts):
    """A sequence declared `@alias OTHER | k=v ...' is OTHER with those
    call-site settings added."""
    if seq.alias:
        target, extra = seq.alias
        merged = dict(extra)
        merged.update(opts)
        return resolve(t, t['seqs'][target], merged)
    return seq, opts


def gen_rust_asm(t, seq, opts, indent):
    seq, opts = resolve(t, seq, opts)
    subst = immediates(t, opts)
    exprs = {k: v for k, v in opts.items() if not v.startswith('$') and k not in ('aborted', 'failed')}
    L = Lang(t, 'rust', seq, subst, 'goto' if seq.end[0] == 'goto' else 'set', opts.get('area_check'))
    items = L.lines_of(seq.lines) + L.end_lines()
    groups, cur = [], []
    for it in items:
        if it[0] == 'mark':
            groups.append(cur)
            cur = []
        else:
            cur.append(it)
    groups.append(cur)
    p = ' ' * indent
    q = ' ' * (indent + 4)
    r = ' ' * (indent + 8)
    out = []
    if seq.inject:
        if len(groups) != 4:
            raise TemplateError('%s: an injected sequence needs @begin, @checked and @commit' % seq.where)
        out.append(p + 'rseq_asm!(')
        out.append(q + 'INJECT,')
        out.append(q + 'inject,')
        for g in groups:
            out.append(q + '[')
            out += [r + L.item(it) + ',' for it in g]
            out.append(q + '],')
    else:
        out.append(p + 'asm!(')
        out.append(q + 'concat!(')
        out += [r + L.item(it) + ',' for g in groups for it in g]
        out.append(q + '),')
    conv = t['conv']['rust']
    for name, kind in seq.operands:
        if name == 'area':
            for a in [x.strip() for x in area_of(conv, opts).split(';') if x.strip()]:
                out.append(q + a.replace(' := ', ' = in(reg) ') + ',')
            continue
        if name in subst:
            continue
        e = exprs.get(name, name)
        out.append(q + {
            'in': '%s = in(reg) %s', 'imm': '%s = in(reg) %s',
            'inout': '%s = inout(reg) %s => _', 'out': '%s = out(reg) %s',
            'scratch': '%s = out(reg) _', 'vscratch': '%s = out(' + conv['vreg'] + ') _',
        }[kind].replace('%s', name, 1).replace('%s', e) + ',')
    if seq.end[0] == 'goto':
        out.append(q + 'aborted = label { %s },' % opts.get('aborted', 'return Outcome::Aborted'))
        if seq.uses_failed():
            out.append(q + 'failed = label { %s },' % opts.get('failed', 'return Outcome::CompareFailed'))
    out.append(q + conv['options'] + ',')
    out.append(p + ');')
    return out


def gen_c_asm(t, seq, opts, indent):
    seq, opts = resolve(t, seq, opts)
    subst = immediates(t, opts)
    exprs = {k: v for k, v in opts.items() if not v.startswith('$')}
    form = c_form(seq)
    L = Lang(t, 'c', seq, subst, form, opts.get('area_check'))
    conv = t['conv']['c']
    p = ' ' * indent
    body = []
    if form == 'result':
        body.append(L.render(conv['result_begin']))
    for it in L.lines_of(seq.lines) + L.end_lines():
        if it[0] == 'mark':
            if it[1] == 'begun' and seq.inject:
                body.append('RSEQ_PERCPU_INLINE_INJECT_ASM (1)')
            elif it[1] == 'commit' and seq.inject:
                body.append('RSEQ_PERCPU_INLINE_INJECT_ASM (2)')
        else:
            body.append(L.item(it))
    decl, voids, outs, ins, clob = [], [], [], [], []
    if form == 'result':
        decl.append('int ret;')
        outs.append('[ret] "=&r" (ret)')
    operands = seq.operands
    if seq.c_order:
        kinds = dict(seq.operands)
        if sorted(seq.c_order) != sorted(kinds):
            raise TemplateError('%s: @c-order names other operands' % seq.where)
        operands = [(n, kinds[n]) for n in seq.c_order]
    for name, kind in operands:
        if name == 'area':
            ins += [x.strip() for x in area_of(conv, opts).split(';') if x.strip()]
            continue
        if name in subst:
            continue
        e = exprs.get(name, name)
        if kind in ('scratch', 'vscratch') and name in L.fixed:
            clob.append('"%s"' % L.fixed[name][None].lstrip('%'))
        elif kind == 'scratch':
            decl.append('uintptr_t %s;' % name)
            voids.append('(void) %s;' % name)
            outs.append('[%s] "=&r" (%s)' % (name, name))
        elif kind == 'vscratch':
            decl.append(conv['vtype'] + ' %s;' % name)
            voids.append('(void) %s;' % name)
            outs.append('[%s] "=&%s" (%s)' % (name, conv['vconstraint'], name))
        elif kind == 'out':
            outs.append('[%s] "=&r" (%s)' % (name, e))
        elif kind == 'inout':
            outs.append('[%s] "+&r" (%s)' % (name, e))
        elif kind == 'imm':
            ins.append('[%s] "%s" (%s)' % (name, conv['imm_constraint'], e))
        else:
            ins.append('[%s] "r" (%s)' % (name, e))
    out = [p + d for d in decl]
    asm = '__asm__ goto (' if form == 'goto' else '__asm__ __volatile__ ('
    a = ' ' * (indent + len(asm))
    out.append(p + asm + body[0])
    out += [a + x for x in body[1:]]
    out.append(a + ': ' + (', '.join(outs) if outs else '/* asm goto: no outputs */'))
    out.append(a + ': ' + ', '.join(ins))
    out.append(a + '  RSEQ_PERCPU_INLINE_INJECT_INPUT')
    out.append(a + ': ' + ', '.join(['"memory"', '"cc"'] + clob) + ' RSEQ_PERCPU_INLINE_INJECT_CLOBBER')
    if form == 'goto':
        labels = ['rseq_aborted'] + (['rseq_compare_failed'] if seq.uses_failed() else [])
        out[-1] = out[-1]
        out.append(a + ': ' + ', '.join(labels) + ');')
    else:
        out[-1] += ');'
    tail = [p + v for v in voids]
    if form == 'goto':
        tail += [p + 'return RSEQ_PERCPU_DONE;', 'rseq_aborted:', p + 'return RSEQ_PERCPU_ABORTED;']
        if seq.uses_failed():
            tail += ['rseq_compare_failed:', p + 'return RSEQ_PERCPU_COMPARE_FAILED;']
    elif form == 'result':
        tail.append(p + 'return ret;')
    return out, tail


def gen_fragments(t, lang):
    out = []
    dummy = Seq('fragment', 'fragment')
    L = Lang(t, lang, dummy, {}, 'set')
    for name, lines in t['frags'].items():
        items = [L.item(it) for it in L.lines_of([(None, x) for x in lines])]
        if lang == 'rust':
            out.append('macro_rules! cs_%s {' % name)
            out.append('    () => {')
            out.append('        concat!(')
            out += ['            %s,' % x for x in items]
            out.append('        )')
            out.append('    };')
            out.append('}')
        else:
            m = '#define RSEQ_PERCPU_ASM_%s' % name.upper()
            rows = [m] + ['  ' + x for x in items]
            w = max(len(x) for x in rows) + 1
            out += [x.ljust(w) + '\\' for x in rows[:-1]] + [rows[-1]]
        out.append('')
    return out


def generate(arch):
    src = os.path.join(SEQ_DIR, arch + '.seq')
    t = parse(os.path.join(ROOT, SEQ_DIR, 'common.seq'), os.path.join(ROOT, src))
    src += ' and %s/common.seq' % SEQ_DIR
    header = {
        'rust': '// @generated from %s by scripts/gen-sequences.py: do not edit;\n'
                '// edit the template and run `python3 scripts/gen-sequences.py`.\n' % src,
        'c': '/* Generated from %s by scripts/gen-sequences.py: do not edit;\n'
             '   edit the template and run `python3 scripts/gen-sequences.py`.  */\n' % src,
    }
    files = {}
    for lang in ('rust', 'c'):
        out = [header[lang].rstrip('\n')]
        pending_tail = {}
        for b in t[lang]:
            for line in b['lines']:
                x = line.strip()
                if x == '@fragments':
                    out += gen_fragments(t, lang)
                elif x.startswith('@asm '):
                    name, opts = parse_call(x, b['at'])
                    if name not in t['seqs']:
                        raise TemplateError('%s: no sequence %s' % (b['at'], name))
                    ind = len(line) - len(line.lstrip())
                    if lang == 'rust':
                        out += gen_rust_asm(t, t['seqs'][name], opts, ind)
                    else:
                        body, tail = gen_c_asm(t, t['seqs'][name], opts, ind)
                        out += body
                        pending_tail[name] = tail
                elif x.startswith('@result '):
                    out += pending_tail.pop(x.split()[1])
                else:
                    out.append(line)
        while out and not out[-1].strip():
            out.pop()
        name = C_HEADER_ARCH.get(arch, arch) if lang == 'c' else arch
        files[OUT[lang].format(arch=name)] = '\n'.join(out) + '\n'
    return files


def main(argv):
    check = '--check' in argv
    archs = [a for a in argv if not a.startswith('--')]
    if not archs:
        archs = sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, SEQ_DIR))
                       if f.endswith('.seq') and f != 'common.seq')
    stale = 0
    for arch in archs:
        try:
            files = generate(arch)
        except TemplateError as e:
            print('gen-sequences: %s' % e, file=sys.stderr)
            return 2
        for rel, text in files.items():
            path = os.path.join(ROOT, rel)
            old = open(path).read() if os.path.exists(path) else None
            if old == text:
                continue
            if check:
                stale += 1
                print('gen-sequences: %s is not what %s/%s.seq generates:' % (rel, SEQ_DIR, arch))
                diff = difflib.unified_diff((old or '').splitlines(True), text.splitlines(True),
                                            rel + ' (committed)', rel + ' (generated)', n=1)
                sys.stdout.writelines(list(diff)[:40])
            else:
                with open(path, 'w') as f:
                    f.write(text)
                print('gen-sequences: wrote %s' % rel)
    if check:
        print('gen-sequences: %s' % ('%d stale file(s)' % stale if stale else 'all generated files current'))
    return 1 if stale else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
