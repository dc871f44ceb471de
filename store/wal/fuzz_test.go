package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// FuzzRecover damages the tail of a valid segment: it cuts the log at some
// point and appends arbitrary bytes. Recovery must never panic and never
// lose a record that lies entirely before the damage; when it refuses to
// open, it must say where the corruption is.
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
	f.Add(uint16(len(base)), []byte{})
	f.Add(uint16(ends[n-1]-3), []byte{})
	f.Add(uint16(len(base)), make([]byte, 4096))
	f.Add(uint16(ends[3]+5), []byte("garbage in the log"))
	f.Add(uint16(ends[2]), append([]byte{1, 2, 3}, validFrame...))
	f.Add(uint16(len(base)), validFrame)
	f.Add(uint16(ends[4]), validFrame[:len(validFrame)-1])
	// A blob frame (campaign state) after the leases, whole and torn.
	blobFrame, _ := appendBlobFrame(nil, &store.Blob{Kind: store.BlobReconf, Key: []byte{0, 0, 0, 1}, Value: []byte("state")})
	f.Add(uint16(len(base)), blobFrame)
	f.Add(uint16(len(base)), blobFrame[:len(blobFrame)-2])

	v6Frame, _ := appendLeaseFrame(nil, new(sampleV6(101)))
	f.Add(uint16(len(base)), v6Frame)
	f.Add(uint16(len(base)), v6Frame[:len(v6Frame)-3])

	f.Fuzz(func(t *testing.T, cut uint16, junk []byte) {
		c := headerSize + int(cut)%(len(base)-headerSize+1)
		data := append(append([]byte(nil), base[:c]...), junk...)
		dir := t.TempDir()
		seg := filepath.Join(dir, segName(1))
		if err := os.WriteFile(seg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := Open(dir, Options{SyncMode: NoSync})
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != seg || ce.Offset < headerSize || ce.Offset > int64(len(data)) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		defer w.Close()
		got := loadAll(t, w)
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
	})
}

// fuzzSample mixes DHCPv4 records with DHCPv6 ones (IA_NA and IA_PD,
// which carry the v6 fields) so recovery is fuzzed over both encodings.
func fuzzSample(i int) lease.Lease {
	if i%3 == 2 {
		return sampleV6(i)
	}
	return sample(i)
}
