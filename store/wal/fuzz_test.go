package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// FuzzRecover damages the tail of a valid segment: it cuts the log at some
// point, appends arbitrary bytes, then pad zeros (the preallocated space
// of a segment written in place). Recovery must never panic and never
// lose a record that lies entirely before the damage; when it refuses to
// open, it must say where the corruption is. When only zeros follow the
// cut, the log ends there: Open must succeed without reporting damage,
// and a record committed next must read back (written in place after the
// old ones).
func FuzzRecover(f *testing.F) {
	const n = 8
	base := appendHeader(nil, magicSegment, prevUnknown)
	ends := make([]int, n) // end offset of each record's frame
	for i := range n {
		l := fuzzSample(i)
		base, _ = appendLeaseFrame(base, &l)
		ends[i] = len(base)
	}
	extra := sample(100)
	validFrame, _ := appendLeaseFrame(nil, &extra)

	// Seeds: nothing damaged; a torn last frame; zero fill as left by a
	// crash after the size was updated; garbage; a valid frame after
	// garbage (middle corruption); a valid frame appended (more data).
	f.Add(uint16(len(base)), []byte{}, uint16(0))
	f.Add(uint16(ends[n-1]-3), []byte{}, uint16(0))
	f.Add(uint16(len(base)), make([]byte, 4096), uint16(0))
	f.Add(uint16(ends[3]+5), []byte("garbage in the log"), uint16(0))
	f.Add(uint16(ends[2]), append([]byte{1, 2, 3}, validFrame...), uint16(0))
	f.Add(uint16(len(base)), validFrame, uint16(0))
	f.Add(uint16(ends[4]), validFrame[:len(validFrame)-1], uint16(0))
	// Preallocated: a zero tail after whole records; after a record cut
	// short (a torn write in place); zeros, then a record (refused) or
	// garbage (torn).
	f.Add(uint16(len(base)), []byte{}, uint16(4096))
	f.Add(uint16(ends[5]), []byte{}, uint16(300))
	f.Add(uint16(ends[n-1]-3), []byte{}, uint16(4096))
	f.Add(uint16(ends[3]), append(make([]byte, 40), validFrame...), uint16(512))
	f.Add(uint16(ends[3]), append(make([]byte, 40), "garbage"...), uint16(512))
	// A blob frame (campaign state) after the leases, whole and torn.
	blobFrame, _ := appendBlobFrame(nil, &store.Blob{Kind: store.BlobReconf, Key: []byte{0, 0, 0, 1}, Value: []byte("state")})
	f.Add(uint16(len(base)), blobFrame, uint16(0))
	f.Add(uint16(len(base)), blobFrame[:len(blobFrame)-2], uint16(64))

	v6Frame, _ := appendLeaseFrame(nil, new(sampleV6(101)))
	f.Add(uint16(len(base)), v6Frame, uint16(0))
	f.Add(uint16(len(base)), v6Frame[:len(v6Frame)-3], uint16(100))

	f.Fuzz(func(t *testing.T, cut uint16, junk []byte, pad uint16) {
		c := headerSize + int(cut)%(len(base)-headerSize+1)
		data := append(append([]byte(nil), base[:c]...), junk...)
		data = append(data, make([]byte, pad)...)
		zeroTail := zeroFrom(data[c:]) == 0
		dir := t.TempDir()
		seg := filepath.Join(dir, segName(1))
		if err := os.WriteFile(seg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var lb logBuf
		w, err := Open(dir, Options{SyncMode: NoSync, Preallocate: 4096, Logger: lb.logger()})
		if err != nil {
			var ce *CorruptError
			if zeroTail || !errors.As(err, &ce) || ce.Path != seg || ce.Offset < headerSize || ce.Offset > int64(len(data)) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		defer w.Close()
		got := loadAll(t, w)
		if zeroTail && (c == headerSize || slices.Contains(ends, c)) && strings.Contains(lb.String(), "torn") {
			t.Fatalf("a zero tail after whole records reported as torn:\n%s", lb.String())
		}
		for i := range n {
			if ends[i] > c {
				break
			}
			l := fuzzSample(i)
			g, ok := got[l.Addr]
			if !ok || g.Seq < l.Seq {
				t.Fatalf("record %d (%s) before the damage at %d lost: %v", i, l.Addr, c, ok)
			}
		}
		st, _ := os.Stat(seg)
		keep := headerSize
		for i := range n {
			if ends[i] <= c {
				keep = ends[i]
			}
		}
		if st.Size() < int64(keep) {
			t.Fatalf("recovery truncated to %d, below intact data at %d", st.Size(), keep)
		}
		if !zeroTail {
			return
		}
		// Nothing but zeros after the cut: exactly the whole records
		// are the log (those before the cut, and one the zeros happen to
		// complete: a record ending in zero bytes), and the next commit
		// goes after them.
		whole := keepN(base, ends, data)
		if len(got) != whole {
			t.Fatalf("zero tail after %d: %d records recovered, want %d", c, len(got), whole)
		}
		next := sample(200)
		commit(t, w, next)
		w.Close()
		w2, err := Open(dir, Options{SyncMode: NoSync, Preallocate: 4096})
		if err != nil {
			t.Fatalf("reopen after a commit: %v", err)
		}
		defer w2.Close()
		got = loadAll(t, w2)
		if g, ok := got[next.Addr]; !ok || g.Seq != next.Seq || len(got) != whole+1 {
			t.Fatalf("reopen after a commit at the zero tail: %d records, new one found %v", len(got), ok)
		}
	})
}

// keepN is the number of records of base (frames ending at ends) that
// data holds whole: the same bytes up to the frame's end.
func keepN(base []byte, ends []int, data []byte) int {
	k := 0
	for _, e := range ends {
		if e > len(data) || !bytes.Equal(data[:e], base[:e]) {
			break
		}
		k++
	}
	return k
}

// fuzzSample mixes DHCPv4 records with DHCPv6 ones (IA_NA and IA_PD,
// which carry the v6 fields) so recovery is fuzzed over both encodings.
func fuzzSample(i int) lease.Lease {
	if i%3 == 2 {
		return sampleV6(i)
	}
	return sample(i)
}

// FuzzRecoverFiles damages one file of a real store (MANIFEST, a snapshot,
// segments linked by their headers): deletes it, truncates it, flips a
// byte or zero-fills its end. Open must then either refuse with a
// *CorruptError or load every record, except those after the damage in the
// newest segment (a torn tail, which a crash produces too). It must never
// silently lose a record of another file.
func FuzzRecoverFiles(f *testing.F) {
	tmpl := f.TempDir()
	// Small preallocation: damage lands in records and in zero tails.
	w, err := Open(tmpl, Options{SyncMode: NoSync, Preallocate: 2048})
	if err != nil {
		f.Fatal(err)
	}
	var all []lease.Lease
	for i := range 60 {
		all = append(all, fuzzSample(i))
	}
	for i := range 20 {
		commit(f, w, all[i])
	}
	if err := w.Compact(slices.Values(all[:20]), nil); err != nil {
		f.Fatal(err)
	}
	for i, l := range all[20:] {
		if i == 20 || i == 30 {
			rotate(f, w)
		}
		commit(f, w, l)
	}
	newest := segName(w.Stats().Segment)
	w.Close()
	ents, _ := os.ReadDir(tmpl)
	var files []string
	for _, e := range ents {
		if e.Name() != lockName {
			files = append(files, e.Name())
		}
	}
	if len(files) != 5 {
		f.Fatalf("template files %v", files)
	}
	// Seeds: delete each file; truncate the newest segment in its header
	// and in a frame; flip a manifest byte; zero-fill a middle segment.
	for i := range files {
		f.Add(uint8(i), uint8(0), uint32(0), byte(0))
	}
	f.Add(uint8(len(files)-1), uint8(1), uint32(10), byte(0))
	f.Add(uint8(len(files)-1), uint8(1), uint32(headerSize+50), byte(0))
	f.Add(uint8(0), uint8(2), uint32(30), byte(4))
	f.Add(uint8(2), uint8(3), uint32(headerSize+7), byte(0))

	f.Fuzz(func(t *testing.T, file, op uint8, at uint32, x byte) {
		dir := copyDir(t, tmpl)
		name := files[int(file)%len(files)]
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pos := int64(at) % int64(len(b)+1)
		switch op % 4 {
		case 0:
			err = os.Remove(path)
		case 1:
			err = os.Truncate(path, pos)
		case 2:
			if pos == int64(len(b)) {
				return
			}
			b[pos] ^= x | 1
			err = os.WriteFile(path, b, 0o600)
		case 3:
			clear(b[pos:])
			err = os.WriteFile(path, b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := Open(dir, Options{SyncMode: NoSync, Preallocate: 2048})
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("%s op %d at %d: Open: %v (not a *CorruptError)", name, op%4, pos, err)
			}
			return
		}
		got := loadAll(t, w)
		w.Close()
		keep := all
		if name == newest && op%4 != 0 && pos >= headerSize {
			keep = all[:50] // the newest segment's tail may be torn
		}
		for _, l := range keep {
			if g, ok := got[l.Addr]; !ok || g.Seq != l.Seq {
				t.Fatalf("%s op %d at %d: Open succeeded but %s (seq %d) is lost", name, op%4, pos, l.Addr, l.Seq)
			}
		}
	})
}
