#!/usr/bin/python3
"""runstat.py RUNS CMD...: run CMD RUNS times (stdout/stderr to
$RUNSTAT_LOG or /dev/null) and print one line

  median_ms min_ms max_ms peak_rss_kb median_cpu_ms

Wall time is measured around fork+exec+wait; CPU time (user + system,
the children it waited for included) comes from wait4() too and is less
disturbed by other load on the machine.  Peak RSS is the largest
ru_maxrss that wait4() reports for a run: Linux reports the maximum over
the process and the children it waited for, so a worker that "acmed run"
starts counts too.  Exits 1 if any run exits non-zero.
"""

import os
import statistics
import sys
import time


def main(argv):
    runs, cmd = int(argv[1]), argv[2:]
    log = os.environ.get("RUNSTAT_LOG", os.devnull)
    times, cpu, peak = [], [], 0
    for _ in range(runs):
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.execvp(cmd[0], cmd)
        _, status, ru = os.wait4(pid, 0)
        times.append((time.perf_counter() - t0) * 1000.0)
        os.close(out)
        peak = max(peak, ru.ru_maxrss)
        cpu.append((ru.ru_utime + ru.ru_stime) * 1000.0)
        if os.waitstatus_to_exitcode(status) != 0:
            print("runstat: %s exited with %d" % (cmd, os.waitstatus_to_exitcode(status)),
                  file=sys.stderr)
            return 1
    print("%.1f %.1f %.1f %d %.1f" % (statistics.median(times), min(times), max(times), peak,
                                      statistics.median(cpu)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
