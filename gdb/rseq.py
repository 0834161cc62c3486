# rseq.py: GDB support for restartable sequences (rseq).
#
# Single-stepping into an rseq critical section aborts it: every ptrace stop
# is a context switch, and the kernel moves a thread that resumes inside a
# registered section to the section's abort handler.  A retry loop stepped
# one instruction at a time therefore never commits.
#
# Loaded with "source gdb/rseq.py" (or auto-loaded: see gdb/README.md), this
# extension makes step, next, stepi and nexti (and s, n, si, ni) step *over*
# critical sections: when the next stop would be inside one, it plants
# temporary breakpoints at every exit point of the section and at its abort
# handler, lets the section run at full speed, and stops after it.  The
# built-in command then completes from there.
#
# Sections are known from the __rseq_cs_ptr_array and
# __rseq_exit_point_array sections of every loaded object (librseq's layout,
# which rseq-libc follows), and from the thread's live rseq_cs (read from
# its rseq area at thread pointer + __rseq_offset).
#
# "info rseq" shows the current thread's area (cpu_id_start, cpu_id,
# rseq_cs, flags, node_id, mm_cid) and the section the thread is in.
# "set rseq-step off" turns the stepping support off; "info rseq sections"
# lists the known sections.
#
# x86-64 Linux (the thread pointer is $fs_base); other architectures need
# their thread-pointer register in _thread_pointer().

import re
import struct

import gdb

RSEQ_CS_SIZE = 32


class Section:
    """One critical section, at run-time addresses."""

    def __init__(self, descriptor, start, length, abort, exits):
        self.descriptor = descriptor
        self.start = start
        self.end = start + length
        self.abort = abort
        self.exits = sorted(set(exits))

    def contains(self, pc):
        return self.start <= pc < self.end

    def stops(self):
        """Where the section leaves: its exits, its end (the commit), its abort handler."""
        return sorted(set(self.exits + [self.end, self.abort]))

    def describe(self):
        exits = ", ".join("0x%x" % e for e in self.exits) or "none listed"
        return "[0x%x, 0x%x) %s, abort 0x%x, exits %s, descriptor 0x%x" % (
            self.start,
            self.end,
            _symbolize(self.start),
            self.abort,
            exits,
            self.descriptor,
        )


def _symbolize(address):
    try:
        block = gdb.block_for_pc(address)
        function = block.function if block is not None else None
        if function is not None:
            return "<%s+%d>" % (function.print_name, address - block.start)
    except RuntimeError:
        pass
    try:
        out = gdb.execute("info symbol 0x%x" % address, to_string=True).strip()
        if not out.startswith("No symbol"):
            return "<%s>" % out.split(" in section")[0].replace(" + ", "+")
    except gdb.error:
        pass
    return ""


def _read(address, size):
    return gdb.selected_inferior().read_memory(address, size).tobytes()


def _u32(address):
    return struct.unpack("<I", _read(address, 4))[0]


def _u64(address):
    return struct.unpack("<Q", _read(address, 8))[0]


def _read_section(descriptor, exits_by_start):
    raw = _read(descriptor, RSEQ_CS_SIZE)
    version, flags, start, length, abort = struct.unpack("<IIQQQ", raw)
    if version != 0 or length == 0 or length > (1 << 20):
        return None
    return Section(descriptor, start, length, abort, exits_by_start.get(start, []))


_SECTION_LINE = re.compile(r"^\s*(0x[0-9a-f]+) - (0x[0-9a-f]+) is (\S+)(?: in (.*))?$")


class SectionTable:
    """The sections of every loaded object, read from the live process."""

    def __init__(self):
        self.sections = None

    def invalidate(self, *_):
        self.sections = None

    def get(self):
        if self.sections is None:
            self.sections = self._load()
        return self.sections

    def _load(self):
        try:
            files = gdb.execute("info files", to_string=True)
        except gdb.error:
            return []
        pointers, exit_points = [], []
        for line in files.splitlines():
            m = _SECTION_LINE.match(line)
            if not m:
                continue
            lo, hi, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if name == "__rseq_cs_ptr_array":
                pointers.append((lo, hi))
            elif name == "__rseq_exit_point_array":
                exit_points.append((lo, hi))
        exits_by_start = {}
        sections = []
        try:
            for lo, hi in exit_points:
                for at in range(lo, hi - 15, 16):
                    start, exit_ip = _u64(at), _u64(at + 8)
                    exits_by_start.setdefault(start, []).append(exit_ip)
            seen = set()
            for lo, hi in pointers:
                for at in range(lo, hi - 7, 8):
                    descriptor = _u64(at)
                    if descriptor in seen or descriptor == 0:
                        continue
                    seen.add(descriptor)
                    section = _read_section(descriptor, exits_by_start)
                    if section is not None:
                        sections.append(section)
        except gdb.MemoryError:
            # Not running yet: read again at the next stop.
            return None
        return sections


TABLE = SectionTable()
gdb.events.new_objfile.connect(TABLE.invalidate)
gdb.events.clear_objfiles.connect(TABLE.invalidate)
gdb.events.exited.connect(TABLE.invalidate)


def _thread_pointer():
    return int(gdb.parse_and_eval("$fs_base")) & 0xFFFFFFFFFFFFFFFF


_AREAS = {}


def _forget_areas(*_):
    _AREAS.clear()


gdb.events.new_objfile.connect(_forget_areas)
gdb.events.exited.connect(_forget_areas)


def thread_area():
    """The current thread's struct rseq address, or None (cached per thread:
    an area stays where it is while the thread is registered)."""
    override = gdb.convenience_variable("rseq_area")
    if override is not None:
        return int(override)
    thread = gdb.selected_thread()
    key = thread.ptid if thread is not None else None
    if key in _AREAS:
        return _AREAS[key]
    area = _find_thread_area()
    if area is not None:
        _AREAS[key] = area
    return area


def _find_thread_area():
    try:
        size = int(gdb.parse_and_eval("*(unsigned int *) &__rseq_size"))
        if size == 0:
            return None
        offset = int(gdb.parse_and_eval("*(long *) &__rseq_offset"))
        area = (_thread_pointer() + offset) & 0xFFFFFFFFFFFFFFFF
        cpu_id = _u32(area + 4)
        if cpu_id >= 1 << 16 and cpu_id not in (0xFFFFFFFF, 0xFFFFFFFE):
            return None
        return area
    except (gdb.error, gdb.MemoryError, RuntimeError):
        return None


def live_section():
    """The section the thread's rseq_cs points at, if any."""
    area = thread_area()
    if area is None:
        return None
    try:
        descriptor = _u64(area + 8)
        if descriptor == 0:
            return None
        known = [s for s in (TABLE.get() or []) if s.descriptor == descriptor]
        if known:
            return known[0]
        return _read_section(descriptor, {})
    except gdb.MemoryError:
        return None


def section_at(pc):
    for section in TABLE.get() or []:
        if section.contains(pc):
            return section
    live = live_section()
    if live is not None and live.contains(pc):
        return live
    return None


def _pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF


_BRANCH_TARGET = re.compile(r"\b(j\w+|call\w*|loop\w*)\s+(0x[0-9a-f]+)")


def _next_pcs(pc):
    """Where the instruction at pc may go: the next one, and a direct branch target."""
    try:
        insn = gdb.selected_frame().architecture().disassemble(pc)[0]
    except (gdb.error, RuntimeError, IndexError):
        return [pc]
    targets = [pc + insn["length"]]
    m = _BRANCH_TARGET.search(insn["asm"])
    if m:
        targets.append(int(m.group(2), 16))
    return targets


def _line_range(pc):
    """[pc, end) of the source line at pc, or None without line info."""
    sal = gdb.find_pc_line(pc)
    if sal.symtab is None or sal.line == 0:
        return None
    end = getattr(sal, "last", None)
    if end is not None:
        return (pc, end + 1)
    return None


class Settings(gdb.Parameter):
    """Whether step, next, stepi and nexti step over rseq critical sections."""

    set_doc = "Set whether stepping commands step over rseq critical sections."
    show_doc = "Show whether stepping commands step over rseq critical sections."

    def __init__(self):
        super().__init__("rseq-step", gdb.COMMAND_RUNNING, gdb.PARAM_BOOLEAN)
        self.value = True

    def get_set_string(self):
        return "rseq stepping is %s." % ("on" if self.value else "off")

    def get_show_string(self, svalue):
        return "rseq stepping is %s." % svalue


SETTINGS = Settings()
STATS = {"skipped": 0, "committed": 0, "aborted": 0}


def run_through(sections, extra_stops=()):
    """Runs until the thread leaves the given sections (an exit or an abort
    handler) or reaches one of extra_stops; returns where it stopped."""
    stops = set(extra_stops)
    aborts = set()
    for section in sections:
        stops.update(section.stops())
        aborts.add(section.abort)
    breakpoints = []
    try:
        for address in sorted(stops):
            breakpoints.append(
                gdb.Breakpoint("*0x%x" % address, internal=True, temporary=False)
            )
        for bp in breakpoints:
            bp.silent = True
        gdb.execute("continue", to_string=True)
    finally:
        for bp in breakpoints:
            if bp.is_valid():
                bp.delete()
    if not gdb.selected_inferior().pid:
        return None
    pc = _pc()
    STATS["skipped"] += 1
    if pc in aborts:
        STATS["aborted"] += 1
        outcome = "aborted"
    else:
        STATS["committed"] += 1
        outcome = "left"
    names = ", ".join("0x%x" % s.start for s in sections)
    print("rseq: ran critical section %s to 0x%x %s (%s)" % (names, pc, _symbolize(pc), outcome))
    return pc


def before_instruction_step():
    """hook-stepi / hook-nexti: steps over a section the next instruction enters."""
    if not SETTINGS.value or not gdb.selected_inferior().pid:
        return
    pc = _pc()
    current = section_at(pc)
    if current is not None:
        # Already inside (a user breakpoint stopped it): the next resume
        # aborts it; run to the abort handler or an exit.
        run_through([current])
        return
    entered = [s for s in (TABLE.get() or []) if any(s.contains(t) for t in _next_pcs(pc))]
    if entered:
        # Also stop right after the instruction if it does not enter.
        run_through(entered)


def before_line_step():
    """hook-step / hook-next: runs the sections of the current line through."""
    if not SETTINGS.value or not gdb.selected_inferior().pid:
        return
    pc = _pc()
    current = section_at(pc)
    if current is not None:
        run_through([current])
        _leave_lineless_code()
        return
    line = _line_range(pc)
    if line is None:
        return
    lo, hi = line
    entered = [s for s in (TABLE.get() or []) if lo <= s.start < hi]
    if not entered:
        return
    # The line may leave before reaching its section (a call, a return, a
    # branch to another line): stop at its end and at the return address too.
    extra = [hi]
    try:
        older = gdb.selected_frame().older()
        if older is not None:
            extra.append(older.pc())
    except gdb.error:
        pass
    run_through(entered, extra)
    _leave_lineless_code()


def _leave_lineless_code(limit=16):
    """After an abort, the thread is in a handler without line information
    (__rseq_failure), where step and next cannot work: step its few
    instructions until code with lines."""
    for _ in range(limit):
        if not gdb.selected_inferior().pid:
            return
        sal = gdb.find_pc_line(_pc())
        if sal.symtab is not None and sal.line != 0:
            return
        gdb.execute("stepi", to_string=True)


def after_step():
    """hookpost-*: says so when a step still ended inside a section."""
    if not SETTINGS.value or not gdb.selected_inferior().pid:
        return
    try:
        section = section_at(_pc())
    except gdb.error:
        return
    if section is not None:
        print(
            "rseq: stopped inside critical section %s: resuming will abort it"
            % section.describe()
        )


class InfoRseq(gdb.Command):
    """Show the current thread's rseq area and critical section.
Usage: info rseq [sections]
  info rseq           the area (cpu_id_start, cpu_id, rseq_cs, flags, node_id,
                      mm_cid) and the critical section the thread is in.
  info rseq sections  every critical section of the loaded objects."""

    def __init__(self):
        super().__init__("info rseq", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        if arg.strip() == "sections":
            sections = TABLE.get() or []
            print("%d critical section(s):" % len(sections))
            for s in sections:
                print("  " + s.describe())
            return
        area = thread_area()
        if area is None:
            print("rseq: this thread has no registered rseq area (__rseq_size is 0 or unreadable)")
            return
        cpu_id_start, cpu_id, rseq_cs, flags, node_id, mm_cid = struct.unpack(
            "<IIQIII", _read(area, 28)
        )

        def cpu(v):
            return {0xFFFFFFFF: "-1 (uninitialized)", 0xFFFFFFFE: "-2 (registration failed)"}.get(
                v, str(v)
            )

        print("rseq area 0x%x (thread pointer + __rseq_offset):" % area)
        print("  cpu_id_start %s" % cpu(cpu_id_start))
        print("  cpu_id       %s" % cpu(cpu_id))
        print("  rseq_cs      0x%x" % rseq_cs)
        print("  flags        0x%x" % flags)
        print("  node_id      %d" % node_id)
        print("  mm_cid       %d" % mm_cid)
        pc = _pc()
        section = section_at(pc)
        if section is None:
            print("  pc 0x%x is in no critical section" % pc)
        else:
            print("  pc 0x%x is in critical section %s" % (pc, section.describe()))
        print(
            "  stepped over %d section(s): %d left normally, %d aborted"
            % (STATS["skipped"], STATS["committed"], STATS["aborted"])
        )


InfoRseq()


def _define_hooks():
    # Hooks run around the built-in commands (and their aliases s, n, si,
    # ni); a Python command cannot call the built-in it would replace.
    script = []
    for command, pre in (
        ("stepi", "before_instruction_step"),
        ("nexti", "before_instruction_step"),
        ("step", "before_line_step"),
        ("next", "before_line_step"),
    ):
        script.append("define hook-%s\npython _rseq_gdb.%s()\nend" % (command, pre))
        script.append("define hookpost-%s\npython _rseq_gdb.after_step()\nend" % command)
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".gdb", delete=False) as f:
        f.write("\n".join(script) + "\n")
        path = f.name
    try:
        gdb.execute("source %s" % path, to_string=True)
    finally:
        os.unlink(path)


# The hooks reach this module through a stable name.
import sys as _sys

_sys.modules["_rseq_gdb"] = _sys.modules[__name__]
gdb.execute("python import _rseq_gdb", to_string=True)
_define_hooks()
