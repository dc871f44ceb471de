package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leased/leased/lease"
)

// rotate starts a new segment the way the writer does after a failed
// batch: linked to the current one with its durable length.
func rotate(t testing.TB, w *WAL) {
	t.Helper()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.createSegment(linkSegment, w.segNum, uint64(w.segOff)); err != nil {
		t.Fatal(err)
	}
}

// commitRange commits samples [from, to) in batches of 100.
func commitRange(t testing.TB, w *WAL, from, to int) []lease.Lease {
	t.Helper()
	var all []lease.Lease
	for i := from; i < to; i += 100 {
		var b []lease.Lease
		for k := i; k < min(i+100, to); k++ {
			b = append(b, sample(k))
		}
		commit(t, w, b...)
		all = append(all, b...)
	}
	return all
}

// chainStore writes 3,000 leases the way a running leased spreads them:
// snap-2 holds 0..999, wal-2 1000..1999, wal-3 2000..2499, wal-4
// 2500..2999, and MANIFEST names snapshot 2 and segments 2..4.
func chainStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w := open(t, dir, Options{})
	first := commitRange(t, w, 0, 1000)
	if err := w.Compact(slices.Values(first), nil); err != nil {
		t.Fatal(err)
	}
	commitRange(t, w, 1000, 2000)
	rotate(t, w)
	commitRange(t, w, 2000, 2500)
	rotate(t, w)
	commitRange(t, w, 2500, 3000)
	if st := w.Stats(); st.Snapshot != 2 || st.Segment != 4 {
		t.Fatalf("layout: snapshot %d, segment %d; want 2 and 4", st.Snapshot, st.Segment)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// samples returns byAddr of the samples in the given [from, to) ranges.
func samples(ranges ...[2]int) map[netip.Addr]lease.Lease {
	m := make(map[netip.Addr]lease.Lease)
	for _, r := range ranges {
		for i := r[0]; i < r[1]; i++ {
			l := sample(i)
			m[l.Addr] = l
		}
	}
	return m
}

// TestRecoverRefusesGaps: every way of losing a store file that a crash
// cannot produce makes Open refuse, naming the missing file and what
// expected it; with AllowDataLoss it opens with what is left, logs the
// loss, sets the old files aside and the next Open needs no override.
func TestRecoverRefusesGaps(t *testing.T) {
	seg := func(dir string, n uint64) string { return filepath.Join(dir, segName(n)) }
	rm := func(names ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, n := range names {
				if err := os.Remove(filepath.Join(dir, n)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	empty := func(n uint64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Truncate(seg(dir, n), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		names  []string // in the error text
		left   map[netip.Addr]lease.Lease
	}{
		{"newest snapshot deleted", rm(snapName(2)),
			[]string{snapName(2), "MANIFEST records snapshot 2"}, samples([2]int{1000, 3000})},
		{"last segment deleted", rm(segName(4)),
			[]string{segName(4), "MANIFEST records segment 4 as created"}, samples([2]int{0, 2500})},
		{"middle segment deleted", rm(segName(3)),
			[]string{segName(3), segName(4) + " continues from it"}, samples([2]int{0, 2000}, [2]int{2500, 3000})},
		{"first segment after the snapshot deleted", rm(segName(2)),
			[]string{segName(2), segName(3) + " continues from it"}, samples([2]int{0, 1000}, [2]int{2000, 3000})},
		{"last segment truncated to 0 bytes", empty(4),
			[]string{segName(4), "short file header (0 bytes", "MANIFEST records this segment as created"}, samples([2]int{0, 2500})},
		{"middle segment truncated to 0 bytes", empty(3),
			[]string{segName(3), "short file header (0 bytes"}, samples([2]int{0, 2000}, [2]int{2500, 3000})},
		{"MANIFEST deleted", rm(manifestName),
			[]string{manifestName, "missing"}, samples([2]int{0, 3000})},
		{"partial backup: snapshot and first segment only", rm(manifestName, segName(3), segName(4)),
			[]string{manifestName, "missing"}, samples([2]int{0, 2000})},
		{"MANIFEST damaged", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, manifestName), 20) },
			[]string{manifestName, "damaged: checksum mismatch"}, samples([2]int{0, 3000})},
	}
	src := chainStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tt.damage(t, dir)
			before, _ := os.ReadDir(dir)

			_, err := Open(dir, Options{})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open = %v, want *CorruptError", err)
			}
			for _, s := range append(tt.names, "store.allow_data_loss") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			if strings.Contains(err.Error(), "AllowCorruptMiddle") {
				t.Errorf("error names a Go field instead of the config key: %v", err)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before)+1 { // + LOCK
				t.Errorf("a refused Open changed the directory: %d entries, was %d and LOCK", len(after), len(before))
			}

			var lb logBuf
			w, err := Open(dir, Options{AllowDataLoss: true, Logger: lb.logger()})
			if err != nil {
				t.Fatalf("Open with AllowDataLoss: %v", err)
			}
			diff(t, tt.left, loadAll(t, w))
			w.Close()
			log := lb.String()
			for _, s := range []string{"SKIPPING CORRUPT DATA", "STARTED WITHOUT LOST DATA", tt.names[0]} {
				if !strings.Contains(log, s) {
					t.Errorf("log does not say %q:\n%s", s, log)
				}
			}
			// The loss is accepted once: the next Open needs no override.
			w = open(t, dir, Options{})
			diff(t, tt.left, loadAll(t, w))
			w.Close()
		})
	}
}

// TestRecoverAcceptsCrashLeftovers: what a crash can leave behind is not a
// gap: a newest segment the manifest does not name yet (created just
// before the crash: empty, a torn header, or a header only), an empty
// segment left by a failed creation, a snapshot newer than the manifest.
func TestRecoverAcceptsCrashLeftovers(t *testing.T) {
	src := chainStore(t)
	hdr := appendLinkedHeader(nil, magicSegment, 1234, linkSegment, 1)
	write := func(name string, b []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		gone   string // removed by recovery
	}{
		{"newest segment empty", write(segName(5), nil), segName(5)},
		{"newest segment torn header", write(segName(5), hdr[:17]), segName(5)},
		{"newest segment header only", write(segName(5), hdr), segName(5)},
		{"newest segment zero-filled header", write(segName(5), make([]byte, headerSize)), segName(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tt.damage(t, dir)
			var lb logBuf
			w, err := Open(dir, Options{Logger: lb.logger()})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			diff(t, samples([2]int{0, 3000}), loadAll(t, w))
			commit(t, w, sample(5000))
			w.Close()
			if _, err := os.Stat(filepath.Join(dir, tt.gone)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still there: %v", tt.gone, err)
			}
			if !strings.Contains(lb.String(), "never written to") {
				t.Errorf("removal not logged:\n%s", lb.String())
			}
			w = open(t, dir, Options{})
			diff(t, samples([2]int{0, 3000}, [2]int{5000, 5001}), loadAll(t, w))
			w.Close()
		})
	}
}

// v1Header is a segment header as the version before manifests wrote it.
func v1Header(prev uint64) []byte {
	h := appendHeader(nil, magicSegment, prev)
	binary.LittleEndian.PutUint32(h[8:12], 1)
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[:28], castagnoli))
	return h
}

// TestRecoverLegacyStore: a directory written by the previous version (no
// MANIFEST, version 1 headers without links) opens once on trust, gets a
// manifest, and from then on a missing file is caught.
func TestRecoverLegacyStore(t *testing.T) {
	dir := t.TempDir()
	var segs [3][]byte
	for s := range segs {
		b := v1Header(prevUnknown)
		for i := s * 10; i < s*10+10; i++ {
			b, _ = appendLeaseFrame(b, new(sample(i)))
		}
		segs[s] = b
		if err := os.WriteFile(segPath(dir, uint64(s+1)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var lb logBuf
	w, err := Open(dir, Options{Logger: lb.logger()})
	if err != nil {
		t.Fatalf("Open of a store without MANIFEST: %v", err)
	}
	diff(t, samples([2]int{0, 30}), loadAll(t, w))
	commit(t, w, sample(30))
	w.Close()
	if !strings.Contains(lb.String(), "level=INFO msg=\"wal: no MANIFEST") {
		t.Errorf("legacy open not logged at info:\n%s", lb.String())
	}
	m, ok, bad, err := readManifest(dir)
	if !ok || bad != nil || err != nil || m != (manifest{snap: 0, first: 1, last: 3}) {
		t.Fatalf("manifest after the legacy open: %+v ok %v %v %v", m, ok, bad, err)
	}
	w = open(t, dir, Options{})
	diff(t, samples([2]int{0, 31}), loadAll(t, w))
	w.Close()
	for _, n := range []uint64{1, 3} { // now the oldest or the newest missing is a gap
		d := copyDir(t, dir)
		os.Remove(segPath(d, n))
		if _, err := Open(d, Options{}); err == nil || !strings.Contains(err.Error(), segName(n)) {
			t.Errorf("%s deleted: Open = %v, want an error naming it", segName(n), err)
		}
	}
}

// TestCorruptErrorNamesConfigKey (issue #10 item 13): the refusal names
// the config key as written in leased.yaml and the hint the daemon gives.
func TestCorruptErrorNamesConfigKey(t *testing.T) {
	dir := copyDir(t, chainStore(t))
	os.Remove(segPath(dir, 4))
	_, err := Open(dir, Options{})
	if err == nil {
		t.Fatal("Open succeeded")
	}
	for _, s := range []string{"store.allow_data_loss: true", "restore every file"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
	if strings.Contains(err.Error(), "AllowCorruptMiddle") || strings.Contains(err.Error(), "AllowDataLoss") {
		t.Errorf("error names a Go field: %v", err)
	}
	_, err = Open(dir, Options{OverrideHint: "set store.allow_data_loss: true in /etc/leased/leased.yaml"})
	if err == nil || !strings.HasSuffix(err.Error(), "(set store.allow_data_loss: true in /etc/leased/leased.yaml)") {
		t.Errorf("hint not used: %v", err)
	}
	// The deprecated option still overrides.
	w, err := Open(dir, Options{AllowCorruptMiddle: true})
	if err != nil {
		t.Fatalf("AllowCorruptMiddle: %v", err)
	}
	w.Close()
}
