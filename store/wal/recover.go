package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/leased/leased/lease"
)

// CorruptError reports damage that recovery will not repair on its own:
// a bad record followed by valid ones, a bad record in a segment that is
// not the last, a damaged snapshot, a missing segment.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: %s: corrupt at offset %d: %s (set AllowCorruptMiddle to skip it and load the rest)", e.Path, e.Offset, e.Reason)
}

// span is a byte range [from, to) of a file that recovery skipped.
type span struct{ from, to int64 }

// recFile is one file recovery read, and how far.
type recFile struct {
	path  string
	num   uint64
	snap  bool
	valid int64 // frames lie in [headerSize, valid)
	skips []span
}

// loc is where the winning record of an address lies.
type loc struct {
	seq  uint64
	off  int64
	file int32
	dead bool
}

// recovered is the outcome of recovery, kept until Load: which record of
// which file wins for every address. Records are read again by Load rather
// than held decoded, so recovery costs ~50 bytes per address instead of a
// full copy of every lease (the engine is the in-memory index).
type recovered struct {
	files []recFile
	index map[netip.Addr]loc
}

// blobEnt is the last version of one blob key seen by recovery. Blobs are
// few and small (campaign state), so they are kept decoded.
type blobEnt struct {
	pos   uint64 // order of the write: snapshot first, then segments
	kind  uint8
	key   string
	value []byte // empty: tombstone
}

// recoveredBlobs maps kind+key to the last version.
type recoveredBlobs map[string]blobEnt

// recovery is the state of one Open's recovery pass.
type recovery struct {
	dir   string
	allow bool
	log   *slog.Logger
	rec   recovered
	blobs recoveredBlobs
	bpos  uint64

	snapNum      uint64 // 0: no snapshot
	lastSeg      uint64 // highest segment number seen, stale or not
	tailSeg      bool   // a replayed last segment remains, tailNum, valid to tailValid
	tailNum      uint64
	tailValid    int64
	segBytes     int64 // bytes in replayed segments
	segRecords   int64 // records in replayed segments
	staleRemoved []string
}

// corrupt returns a CorruptError, or nil after logging it when the
// operator allowed skipping damage.
func (r *recovery) corrupt(path string, off int64, reason string) error {
	err := &CorruptError{Path: path, Offset: off, Reason: reason}
	if !r.allow {
		return err
	}
	r.log.Error("wal: SKIPPING CORRUPT DATA, records may be lost (AllowCorruptMiddle)",
		"file", path, "offset", off, "reason", reason)
	return nil
}

// addBlob decodes a blob payload and makes it the key's last version.
func (r *recovery) addBlob(p []byte) error {
	b, err := decodeBlob(p)
	if err != nil {
		return err
	}
	r.bpos++
	k := string(append([]byte{b.Kind}, b.Key...))
	r.blobs[k] = blobEnt{pos: r.bpos, kind: b.Kind, key: k[1:], value: append([]byte(nil), b.Value...)}
	return nil
}

func (r *recovery) add(st lease.State, seq uint64, a netip.Addr, file int32, off int64) {
	if cur, ok := r.rec.index[a]; ok && cur.seq > seq {
		return
	}
	// Equal Seq: the later position wins (the same record written twice).
	r.rec.index[a] = loc{seq: seq, off: off, file: file, dead: st == lease.StateDeleted}
}

// findFrame returns the offset of the first intact frame at or after from,
// or -1. Cheap checks (length, kind) come before the checksum so that
// scanning garbage or zero fill stays fast.
func findFrame(data []byte, from int64) int64 {
	for o := from; o+frameHeaderSize <= int64(len(data)); o++ {
		n := int64(binary.LittleEndian.Uint32(data[o:]))
		if n == 0 || n > maxPayload || o+frameHeaderSize+n > int64(len(data)) || !Kind(data[o+8]).known() {
			continue
		}
		if _, _, _, st := parseFrame(data[o:]); st == frameOK {
			return o
		}
	}
	return -1
}

// scan walks the frames of data[headerSize:limit]. visit returns an error
// for a frame whose checksum is right but whose content is not (that is
// corruption, never a torn write). tail says the file is the last segment,
// whose damaged end (nothing intact after the damage) is torn, not corrupt:
// scan then returns tornAt >= 0 and the caller truncates.
func (r *recovery) scan(f *recFile, data []byte, limit int64, tail bool, visit func(Kind, []byte, int64) error) (tornAt int64, err error) {
	off := int64(headerSize)
	for off < limit {
		k, p, n, st := parseFrame(data[off:limit])
		if st == frameOK {
			if verr := visit(k, p, off); verr != nil {
				if err := r.corrupt(f.path, off, verr.Error()); err != nil {
					return -1, err
				}
				f.skips = append(f.skips, span{off, off + int64(n)})
			}
			off += int64(n)
			continue
		}
		next := findFrame(data[:limit], off+1)
		if next < 0 && tail {
			f.valid = off
			return off, nil
		}
		reason := st.String()
		if next >= 0 {
			reason = fmt.Sprintf("%s; intact records follow at offset %d", reason, next)
		} else {
			reason = fmt.Sprintf("%s in a file that is not the last segment", reason)
		}
		if err := r.corrupt(f.path, off, reason); err != nil {
			return -1, err
		}
		if next < 0 {
			f.valid = off
			return -1, nil
		}
		f.skips = append(f.skips, span{off, next})
		off = next
	}
	f.valid = limit
	return -1, nil
}

// recoverDir reads the newest snapshot and the segments after it, repairs
// a torn tail, and removes files a finished compaction left behind.
func recoverDir(dir string, allow bool, log *slog.Logger) (*recovery, error) {
	r := &recovery{dir: dir, allow: allow, log: log}
	r.rec.index = make(map[netip.Addr]loc)
	r.blobs = make(recoveredBlobs)
	df, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	for _, t := range df.tmps { // an interrupted compaction
		if err := os.Remove(t); err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		r.staleRemoved = append(r.staleRemoved, t)
	}
	if n := len(df.snapshots); n > 0 {
		r.snapNum = df.snapshots[n-1]
		for _, s := range df.snapshots[:n-1] {
			r.staleRemoved = append(r.staleRemoved, filepath.Join(dir, snapName(s)))
		}
		if err := r.readSnapshot(filepath.Join(dir, snapName(r.snapNum))); err != nil {
			return nil, err
		}
	}
	var replay []uint64
	for _, s := range df.segments {
		r.lastSeg = max(r.lastSeg, s)
		if s < r.snapNum {
			r.staleRemoved = append(r.staleRemoved, filepath.Join(dir, segName(s)))
		} else {
			replay = append(replay, s)
		}
	}
	if err := r.readSegments(replay); err != nil {
		return nil, err
	}
	for a, l := range r.rec.index {
		if l.dead {
			delete(r.rec.index, a)
		}
	}
	for k, b := range r.blobs {
		if len(b.value) == 0 {
			delete(r.blobs, k)
		}
	}
	return r, nil
}

func (r *recovery) readSnapshot(path string) error {
	data, release, err := mapFile(path)
	if err != nil {
		return err
	}
	defer release()
	if _, err := parseHeader(data, magicSnapshot); err != nil {
		if err := r.corrupt(path, 0, err.Error()); err != nil {
			return err
		}
		return nil
	}
	fi := int32(len(r.rec.files))
	f := recFile{path: path, num: r.snapNum, snap: true}
	var count uint64
	ended := false
	_, err = r.scan(&f, data, int64(len(data)), false, func(k Kind, p []byte, off int64) error {
		if ended {
			return errors.New("record after the snapshot end marker")
		}
		switch k {
		case KindLease:
			st, seq, a, err := leaseKey(p)
			if err != nil {
				return err
			}
			r.add(st, seq, a, fi, off)
			count++
		case KindBlob:
			if err := r.addBlob(p); err != nil {
				return err
			}
			count++
		case kindSnapEnd:
			want, n := binary.Uvarint(p)
			if n != len(p) || want != count {
				return fmt.Errorf("snapshot end marker says %d records, found %d", want, count)
			}
			ended = true
		default:
			return fmt.Errorf("record kind %d not valid in a snapshot", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !ended {
		if err := r.corrupt(path, f.valid, "snapshot has no end marker (incomplete)"); err != nil {
			return err
		}
	}
	r.rec.files = append(r.rec.files, f)
	return nil
}

func (r *recovery) readSegments(nums []uint64) error {
	// Segment N+1's header records how much of segment N was durable when
	// N+1 was created; read them all first.
	prev := make([]uint64, len(nums))
	for i, n := range nums {
		prev[i] = prevUnknown
		b := make([]byte, headerSize)
		f, err := os.Open(filepath.Join(r.dir, segName(n)))
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		if _, err := f.ReadAt(b, 0); err == nil {
			if p, err := parseHeader(b, magicSegment); err == nil {
				prev[i] = p
			}
		}
		f.Close()
	}
	if len(nums) > 0 && r.snapNum != 0 && nums[0] != r.snapNum {
		if err := r.corrupt(filepath.Join(r.dir, segName(r.snapNum)), 0, "segment missing after snapshot"); err != nil {
			return err
		}
	}
	for i, n := range nums {
		if i > 0 && nums[i-1]+1 != n {
			if err := r.corrupt(filepath.Join(r.dir, segName(nums[i-1]+1)), 0, "segment missing"); err != nil {
				return err
			}
		}
		last := i == len(nums)-1
		limit := int64(-1)
		if !last && nums[i+1] == n+1 && prev[i+1] != prevUnknown {
			limit = int64(prev[i+1])
		}
		if err := r.readSegment(n, last, limit); err != nil {
			return err
		}
	}
	return nil
}

// readSegment replays one segment. limit, when >= 0, is the durable length
// the next segment's header recorded for this one.
func (r *recovery) readSegment(num uint64, last bool, limit int64) error {
	path := filepath.Join(r.dir, segName(num))
	data, release, err := mapFile(path)
	if err != nil {
		return err
	}
	mapped := true
	defer func() {
		if mapped {
			release()
		}
	}()
	size := int64(len(data))
	if _, err := parseHeader(data, magicSegment); err != nil {
		if last && size < headerSize {
			// Created but its header never became durable: nothing in it
			// was ever acknowledged.
			r.log.Warn("wal: removing segment with torn header", "file", path, "bytes_dropped", size)
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			return syncDir(r.dir)
		}
		return r.corrupt(path, 0, err.Error())
	}
	if limit >= 0 {
		switch {
		case limit > size:
			if err := r.corrupt(path, size, fmt.Sprintf("segment is %d bytes, the next segment recorded %d durable", size, limit)); err != nil {
				return err
			}
			limit = size
		case limit < size:
			r.log.Warn("wal: ignoring the end of a segment written by a failed, unacknowledged batch",
				"file", path, "offset", limit, "bytes_ignored", size-limit)
		}
	} else {
		limit = size
	}
	fi := int32(len(r.rec.files))
	f := recFile{path: path, num: num}
	tornAt, err := r.scan(&f, data, limit, last, func(k Kind, p []byte, off int64) error {
		if k == KindBlob {
			if err := r.addBlob(p); err != nil {
				return err
			}
			r.segRecords++
			return nil
		}
		if k != KindLease {
			return fmt.Errorf("record kind %d not valid in a segment", k)
		}
		st, seq, a, err := leaseKey(p)
		if err != nil {
			return err
		}
		r.add(st, seq, a, fi, off)
		r.segRecords++
		return nil
	})
	if err != nil {
		return err
	}
	r.segBytes += f.valid
	r.rec.files = append(r.rec.files, f)
	if last {
		r.tailSeg = true
		r.tailNum, r.tailValid = num, f.valid
	}
	if tornAt >= 0 {
		release()
		mapped = false
		if err := truncate(path, tornAt); err != nil {
			return err
		}
		r.log.Warn("wal: truncated torn tail of the last segment",
			"file", path, "offset", tornAt, "bytes_dropped", size-tornAt)
	}
	return nil
}

func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: truncate %s to %d: %w", path, size, err)
	}
	return nil
}

// load yields the winning record of every live address, reading the files
// again in order. It trusts recovery's validation but still checks every
// frame it reads.
func (rec *recovered) load(fn func(lease.Lease) error) error {
	intern := make(map[string]string)
	for i := range rec.files {
		if err := rec.loadFile(int32(i), intern, fn); err != nil {
			return err
		}
	}
	return nil
}

func (rec *recovered) loadFile(fi int32, intern map[string]string, fn func(lease.Lease) error) error {
	f := &rec.files[fi]
	data, release, err := mapFile(f.path)
	if err != nil {
		return err
	}
	defer release()
	if int64(len(data)) < f.valid {
		return fmt.Errorf("wal: %s shrank from %d to %d bytes since Open", f.path, f.valid, len(data))
	}
	skips := f.skips
	for off := int64(headerSize); off < f.valid; {
		if len(skips) > 0 && skips[0].from == off {
			off = skips[0].to
			skips = skips[1:]
			continue
		}
		k, p, n, st := parseFrame(data[off:f.valid])
		if st != frameOK {
			return &CorruptError{Path: f.path, Offset: off, Reason: st.String() + " (changed since Open)"}
		}
		if k == KindLease {
			_, seq, a, err := leaseKey(p)
			if err != nil {
				return &CorruptError{Path: f.path, Offset: off, Reason: err.Error()}
			}
			if l, ok := rec.index[a]; ok && l.file == fi && l.off == off && l.seq == seq {
				le, err := decodeLease(p, intern)
				if err != nil {
					return &CorruptError{Path: f.path, Offset: off, Reason: err.Error()}
				}
				if err := fn(le); err != nil {
					return err
				}
			}
		}
		off += int64(n)
	}
	return nil
}
