# Single-steps the inferior with "stepi" until it exits or $max_steps steps,
# then prints one summary line: "STEPS n EXITED code" or
# "STEPS n RUNNING increments_done d aborts a".
import gdb

limit = int(gdb.parse_and_eval("$max_steps"))
steps = 0
while gdb.selected_inferior().pid and steps < limit:
    gdb.execute("stepi", to_string=True)
    steps += 1
if gdb.selected_inferior().pid:
    print(
        "STEPS %d RUNNING increments_done %d aborts %d"
        % (steps, int(gdb.parse_and_eval("increments_done")), int(gdb.parse_and_eval("aborts")))
    )
else:
    print("STEPS %d EXITED %d" % (steps, int(gdb.parse_and_eval("$_exitcode"))))
stats = getattr(__import__("sys").modules.get("_rseq_gdb"), "STATS", None)
if stats is not None:
    print("SECTIONS run through %(skipped)d: left %(committed)d, aborted %(aborted)d" % stats)
