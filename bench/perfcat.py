#!/usr/bin/env python3
# bench/perfcat.py PERF.DATA [cpu_ms_per_1000]: shares of perf samples by category, each
# sample counted once under the first rule (in order) that a frame of its call chain
# matches, kernel and Go frames alike (bench/perf-profile, docs/BENCHMARKS.md "#15 part 4").
import subprocess, sys, re, collections
data = sys.argv[1]; per = float(sys.argv[2]) if len(sys.argv) > 2 else 0
out = subprocess.run(["perf","script","-i",data,"-F","ip,sym"],capture_output=True,text=True).stdout
rules = [
 ("GC", r"runtime\.gcBgMarkWorker|runtime\.bgsweep|runtime\.bgscavenge|runtime\.markroot|runtime\.gcAssist|gcDrain|runtime\.gcStart"),
 ("send: sendmmsg/sendmsg (incl. loopback delivery)", r"__sys_sendmmsg|__sys_sendmsg|__x64_sys_sendmmsg|__x64_sys_sendto|replyBatcher\)\.sendmmsg"),
 ("read: recvmmsg/recvmsg", r"__sys_recvmmsg|__x64_sys_recvmmsg|__sys_recvmsg|__x64_sys_recvfrom|mmsgReader\)\.recv"),
 ("WAL: fdatasync + write syscalls", r"do_fsync|__x64_sys_fdatasync|__x64_sys_pwrite64|__x64_sys_write\b|ksys_write|wal\.\(\*WAL\)\.writeBatch"),
 ("scheduler: epoll_wait (netpoll)", r"do_epoll_wait|__x64_sys_epoll_pwait|runtime\.netpoll\b"),
 ("scheduler: futex (M sleep/wake)", r"futex_|__x64_sys_futex|runtime\.futex"),
 ("scheduler: nanosleep/sched_yield (spinning, sysmon)", r"__x64_sys_nanosleep|do_nanosleep|__x64_sys_sched_yield|runtime\.usleep|runtime\.osyield|runtime\.sysmon"),
 ("scheduler: Go runtime (schedule, park, ready, timers)", r"runtime\.(schedule|findRunnable|park_m|mcall|gopark|goready|ready|wakep|startm|stopm|runqsteal|gosched|goexit0|checkTimers|runtimer|lock2|unlock2|semacquire|semrelease|selectgo|chansend|chanrecv|entersyscall|exitsyscall|netpollblock|netpollready)"),
 ("interrupts/other kernel", r"asm_sysvec|irq_exit|do_softirq|__irq_exit"),
 ("WAL: queue, encode, pacer", r"store/wal\."),
 ("engine (lease/, lease6/)", r"^[0-9a-f]+ github\.com/leased/leased/lease6?\."),
 ("server: decode, encode, request, metrics", r"leased/server\.|leased/dhcpv[46]\.|main\.|prometheus"),
 ("null responder (user code)", r"main\.|leasebench"),
 ("memory alloc", r"runtime\.mallocgc"),
]
tot = 0; cat = collections.Counter()
for block in out.split("\n\n"):
    lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
    if not lines: continue
    joined = "\n".join(lines)
    c = "other"
    for name, rx in rules:
        if re.search(rx, joined, re.M): c = name; break
    cat[c] += 1; tot += 1
print(f"{tot} samples" + (f"; {per:.1f} ms CPU per 1,000 exchanges" if per else ""))
for c, v in cat.most_common():
    extra = f"   {per*v/tot:6.1f} ms/1000" if per else ""
    print(f"  {c:55s} {100*v/tot:5.1f} %{extra}")
