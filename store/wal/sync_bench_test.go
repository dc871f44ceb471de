package wal

import (
	"context"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/lease"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSyncLatency commits one record at a time from `writers`
// goroutines, each waiting for its commit before the next: with one
// writer every commit is one write and one fdatasync, the cost a lightly
// loaded server pays per exchange. It reports the latency of a commit
// (p50, p99), the process's CPU time per commit and commits per batch.
// Run it on a file system where fsync is real (ext4 under /var/tmp:
// TMPDIR=/var/tmp).
func benchSyncLatency(b *testing.B, writers int, opts Options) {
	w := open(b, b.TempDir(), opts)
	defer w.Close()
	lat := make([][]time.Duration, writers)
	per := b.N/writers + 1
	b.ReportAllocs()
	cpu0, st0 := cpuTime(b), w.Stats()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			recs := make([]lease.Lease, 1)
			l := make([]time.Duration, 0, per)
			for i := range per {
				recs[0] = sample(g<<20 | i)
				t := time.Now()
				if err := w.Commit(context.Background(), recs); err != nil {
					b.Error(err)
					return
				}
				l = append(l, time.Since(t))
			}
			lat[g] = l
		})
	}
	wg.Wait()
	b.StopTimer()
	if commits := reportCommits(b, cpuTime(b)-cpu0, st0, w.Stats(), lat); commits > 0 {
		b.ReportMetric(commits/b.Elapsed().Seconds(), "commits/s")
	}
}

// One committer: every commit pays a whole write + fdatasync.
func BenchmarkSyncLatency1(b *testing.B) { benchSyncLatency(b, 1, Options{}) }

// Four committers in lock step: what a group commit of a few records costs.
func BenchmarkSyncLatency4(b *testing.B) { benchSyncLatency(b, 4, Options{}) }

// benchPaced offers commits of one record at a fixed rate (as requests
// arrive at a server: independent of when earlier commits finish) from a
// pool of committers, and reports commit latency (p50, p99), the
// process's CPU time per commit (pacing included, the same for every
// variant) and commits per batch. Run with -benchtime=Nx (N commits).
func benchPaced(b *testing.B, rate int, opts Options) {
	w := open(b, b.TempDir(), opts)
	defer w.Close()
	const pool = 256
	type job struct {
		i  int
		at time.Time
	}
	jobs := make(chan job, pool)
	lat := make([][]time.Duration, pool)
	var wg sync.WaitGroup
	for g := range pool {
		wg.Go(func() {
			recs := make([]lease.Lease, 1)
			for j := range jobs {
				recs[0] = sample(j.i)
				if err := w.Commit(context.Background(), recs); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(j.at))
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	cpu0, st0 := cpuTime(b), w.Stats()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{i, at}
	}
	close(jobs)
	wg.Wait()
	b.StopTimer()
	reportCommits(b, cpuTime(b)-cpu0, st0, w.Stats(), lat)
}

// reportCommits reports the latency percentiles of lat and, per commit
// between the stats st0 and st, the CPU time cpu, the batch size, the
// flush and the wait for company; it returns the commits (0 when lat is
// empty: nothing reported).
func reportCommits(b *testing.B, cpu time.Duration, st0, st Stats, lat [][]time.Duration) float64 {
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return 0
	}
	commits := float64(st.Commits - st0.Commits)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(cpu.Microseconds())/commits, "cpu-us/commit")
	if n := st.Batches - st0.Batches; n > 0 {
		b.ReportMetric(commits/float64(n), "commits/batch")
		b.ReportMetric(float64((st.FlushTime-st0.FlushTime).Microseconds())/float64(n), "flush-us")
	}
	if n := st.WaitedBatches - st0.WaitedBatches; n > 0 {
		b.ReportMetric(float64((st.Waited-st0.Waited).Microseconds())/float64(n), "wait-us")
	}
	return commits
}

func BenchmarkPaced3000(b *testing.B) { benchPaced(b, 3000, Options{}) }
func BenchmarkPaced8000(b *testing.B) { benchPaced(b, 8000, Options{}) }

// The same without preallocation and without waiting for company: the
// store as it was before issue #15 (the file grows with every commit).
var optsBefore15 = Options{Preallocate: -1, LatencyBudget: -1}

// Preallocation only (no waiting for company).
var optsPreallocOnly = Options{LatencyBudget: -1}

func BenchmarkSyncLatency1Before15(b *testing.B)     { benchSyncLatency(b, 1, optsBefore15) }
func BenchmarkSyncLatency1PreallocOnly(b *testing.B) { benchSyncLatency(b, 1, optsPreallocOnly) }
func BenchmarkSyncLatency4Before15(b *testing.B)     { benchSyncLatency(b, 4, optsBefore15) }
func BenchmarkPaced3000Before15(b *testing.B)        { benchPaced(b, 3000, optsBefore15) }
func BenchmarkPaced3000PreallocOnly(b *testing.B)    { benchPaced(b, 3000, optsPreallocOnly) }
func BenchmarkPaced8000Before15(b *testing.B)        { benchPaced(b, 8000, optsBefore15) }
func BenchmarkPaced8000PreallocOnly(b *testing.B)    { benchPaced(b, 8000, optsPreallocOnly) }

// benchRawFlush measures the durability primitive alone on a
// preallocated, synced file: one 150-byte record written in place and
// flushed, either pwrite + fdatasync (what the writer does) or one pwrite
// on a descriptor opened O_DSYNC (one syscall instead of two). Reports
// latency and the process's CPU per record.
func benchRawFlush(b *testing.B, dsync bool) {
	path := b.TempDir() + "/raw"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	size := int64(b.N+1) * 150
	pf := &osFile{f: f, fd: int(f.Fd())}
	if err := pf.Prealloc(0, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	flag := os.O_WRONLY
	if dsync {
		flag |= unix.O_DSYNC
	}
	if f, err = os.OpenFile(path, flag, 0); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, 150)
	for i := range rec {
		rec[i] = byte(i) | 1
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := f.WriteAt(rec, int64(i)*150); err != nil {
			b.Fatal(err)
		}
		if !dsync {
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}

func BenchmarkRawFdatasync(b *testing.B) { benchRawFlush(b, false) }
func BenchmarkRawODsync(b *testing.B)    { benchRawFlush(b, true) }

// BenchmarkRawODirect is benchRawFlush with the flush issue #15 part 4
// tried and did not adopt (docs/BENCHMARKS.md, "#15 part 4"; the writer's
// implementation is commit 6597fff): the aligned block holding the
// 150-byte record (the records before it rewritten, zeros after it)
// written through an O_DIRECT descriptor, then fdatasync.
func BenchmarkRawODirect(b *testing.B) { benchRawODirect(b, false, false) }

// BenchmarkRawODirectDsync: the flush in the write, pwritev2(RWF_DSYNC),
// one syscall instead of two.
func BenchmarkRawODirectDsync(b *testing.B) { benchRawODirect(b, true, false) }

// BenchmarkRawODirectUncached: the zero fill's pages dropped from the
// page cache first, so the direct write has none to invalidate.
func BenchmarkRawODirectUncached(b *testing.B) { benchRawODirect(b, false, true) }

func benchRawODirect(b *testing.B, dsync, uncached bool) {
	path := b.TempDir() + "/raw"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st); err != nil ||
		st.Mask&unix.STATX_DIOALIGN == 0 || st.Dio_offset_align == 0 {
		b.Skipf("%s reports no direct I/O alignment (%v; tmpfs?): set TMPDIR to a disk file system", path, err)
	}
	blk := int64(max(st.Dio_offset_align, st.Blksize))
	align := max(blk, int64(st.Dio_mem_align))
	size := (int64(b.N+1)*150+blk-1)/blk*blk + blk
	pf := &osFile{f: f, fd: int(f.Fd())}
	if err := pf.Prealloc(0, size); err != nil {
		b.Fatal(err)
	}
	if uncached {
		if err := unix.Fadvise(pf.fd, 0, size, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
	}
	d, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		b.Skipf("O_DIRECT refused in %s: %v", path, err)
	}
	defer d.Close()
	// img mirrors the file, aligned: each write takes whole blocks from it.
	raw := make([]byte, size+align)
	skip := int64(-uintptr(unsafe.Pointer(&raw[0])) & uintptr(align-1))
	img := raw[skip : skip+size]
	rec := make([]byte, 150)
	for i := range rec {
		rec[i] = byte(i) | 1
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := range b.N {
		off := int64(i) * 150
		copy(img[off:], rec)
		base, end := off/blk*blk, (off+150+blk-1)/blk*blk
		if dsync {
			if _, err := unix.Pwritev2(int(d.Fd()), [][]byte{img[base:end]}, base, unix.RWF_DSYNC); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := d.WriteAt(img[base:end], base); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(pf.fd); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
