package seedfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
)

// ISO 9660 layout (ECMA-119), with the Joliet and Rock Ridge (SUSP/RRIP) extensions.
const (
	isoSector      = 2048
	isoFirstVD     = 16 // sector of the first volume descriptor
	isoMaxVDs      = 64 // volume descriptors read before giving up on a terminator
	isoMaxSUSPHops = 16 // continuation areas followed for one directory record

	isoFlagDir        = 0x02
	isoFlagAssociated = 0x04
	isoFlagMulti      = 0x80
)

// isoNames says which names a tree carries.
type isoNames int

const (
	isoPlain isoNames = iota
	isoJoliet
	isoRockRidge
)

// isoReader walks one directory hierarchy of an ISO 9660 image.
type isoReader struct {
	r        io.ReaderAt
	size     int64
	block    int64 // logical block size
	names    isoNames
	suspSkip int            // bytes to skip at the start of each system use area (from SP)
	visited  map[int64]bool // directory extents already read
	count    int            // entries so far
	read     budget
}

// isoRecord is a parsed directory record.
type isoRecord struct {
	extent int64 // byte offset
	size   int64
	flags  byte
	name   []byte
	su     []byte // system use area
	mtime  time.Time
}

func isISO(r io.ReaderAt, size int64) bool {
	var id [5]byte
	return readAt(r, size, id[:], isoFirstVD*isoSector+1) == nil && string(id[:]) == "CD001"
}

// openISO picks the hierarchy with the best names (Rock Ridge, then Joliet, then plain) and
// reads it.
func openISO(r io.ReaderAt, size int64) (*FS, error) {
	pvd, joliet, err := isoDescriptors(r, size)
	if err != nil {
		return nil, err
	}
	ir := &isoReader{r: r, size: size, visited: map[int64]bool{}}
	ir.block = int64(binary.LittleEndian.Uint16(pvd[128:]))
	if ir.block != 512 && ir.block != 1024 && ir.block != 2048 {
		return nil, fmt.Errorf("seedfs: iso9660: bad logical block size %d", ir.block)
	}
	vd := pvd
	if skip, ok := ir.rockRidge(pvd); ok {
		ir.names, ir.suspSkip = isoRockRidge, skip
	} else if joliet != nil {
		ir.names, vd = isoJoliet, joliet
	}
	root, err := ir.parseRecord(vd[156:190])
	if err != nil || root.flags&isoFlagDir == 0 {
		return nil, fmt.Errorf("seedfs: iso9660: bad root directory record")
	}
	rn := &node{name: ".", dir: true, mtime: root.mtime}
	if err := ir.readDir(rn, root.extent, root.size, 0); err != nil {
		return nil, err
	}
	return &FS{typ: TypeISO9660, label: isoLabel(pvd, joliet), root: rn, data: ir.fileData}, nil
}

// isoLabel returns the volume identifier of the primary descriptor, else the Joliet one.
func isoLabel(pvd, joliet []byte) string {
	label := strings.TrimRight(string(pvd[40:72]), " \x00")
	if label == "" && joliet != nil {
		label = strings.TrimRight(decodeUCS2(joliet[40:72]), " \x00")
	}
	return label
}

// isoDescriptors returns the primary volume descriptor and, if present, the Joliet
// supplementary one.
func isoDescriptors(r io.ReaderAt, size int64) (pvd, joliet []byte, err error) {
	for i := int64(0); i < isoMaxVDs; i++ {
		b := make([]byte, isoSector)
		if err := readAt(r, size, b, (isoFirstVD+i)*isoSector); err != nil {
			return nil, nil, fmt.Errorf("seedfs: iso9660: volume descriptor: %w", err)
		}
		if string(b[1:6]) != "CD001" {
			return nil, nil, errors.New("seedfs: iso9660: bad volume descriptor signature")
		}
		switch b[0] {
		case 1:
			if pvd == nil {
				pvd = b
			}
		case 2:
			esc := b[88:120]
			if joliet == nil && (bytes.HasPrefix(esc, []byte("%/@")) ||
				bytes.HasPrefix(esc, []byte("%/C")) || bytes.HasPrefix(esc, []byte("%/E"))) {
				joliet = b
			}
		case 255:
			if pvd == nil {
				return nil, nil, errors.New("seedfs: iso9660: no primary volume descriptor")
			}
			return pvd, joliet, nil
		}
	}
	return nil, nil, errors.New("seedfs: iso9660: no volume descriptor terminator")
}

// rockRidge reports whether the primary hierarchy carries Rock Ridge, by the SUSP "SP" entry
// that opens the system use area of the root's "." record, and returns its skip length.
func (ir *isoReader) rockRidge(pvd []byte) (skip int, ok bool) {
	root, err := ir.parseRecord(pvd[156:190])
	if err != nil || root.size == 0 {
		return 0, false
	}
	b := make([]byte, 255)
	if int64(len(b)) > root.size {
		b = b[:root.size]
	}
	if readAt(ir.r, ir.size, b, root.extent) != nil {
		return 0, false
	}
	dot, err := ir.parseRecord(b[:min(int(b[0]), len(b))])
	if err != nil {
		return 0, false
	}
	su := dot.su
	if len(su) >= 7 && string(su[:2]) == "SP" && su[2] >= 7 && su[4] == 0xBE && su[5] == 0xEF {
		return int(su[6]), true
	}
	return 0, false
}

// parseRecord decodes one directory record; b is exactly the record.
func (ir *isoReader) parseRecord(b []byte) (isoRecord, error) {
	if len(b) < 34 || int(b[0]) != len(b) {
		return isoRecord{}, errors.New("seedfs: iso9660: bad directory record length")
	}
	nameLen := int(b[32])
	if 33+nameLen > len(b) {
		return isoRecord{}, errors.New("seedfs: iso9660: directory record name overruns record")
	}
	rec := isoRecord{
		extent: int64(binary.LittleEndian.Uint32(b[2:])) * ir.block,
		size:   int64(binary.LittleEndian.Uint32(b[10:])),
		flags:  b[25],
		name:   b[33 : 33+nameLen],
		mtime:  isoTime(b[18:25]),
	}
	if rec.extent > ir.size || rec.size > ir.size-rec.extent {
		return isoRecord{}, fmt.Errorf("seedfs: iso9660: extent %d+%d outside the %d-byte image",
			rec.extent, rec.size, ir.size)
	}
	suStart := 33 + nameLen
	if nameLen%2 == 0 {
		suStart++ // padding byte
	}
	if suStart <= len(b) {
		rec.su = b[suStart:]
	}
	return rec, nil
}

// isoTime decodes a 7-byte recording date; a zero month means "not recorded".
func isoTime(b []byte) time.Time {
	if b[1] == 0 {
		return time.Time{}
	}
	zone := time.FixedZone("", int(int8(b[6]))*15*60)
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0, zone)
}

// readDir reads the directory extent at off into n, recursing into subdirectories.
func (ir *isoReader) readDir(n *node, off, size int64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("seedfs: iso9660: directories nested deeper than %d", maxDepth)
	}
	if size > maxDirBytes {
		return fmt.Errorf("seedfs: iso9660: directory of %d bytes, over the limit", size)
	}
	if ir.visited[off] {
		return fmt.Errorf("seedfs: iso9660: directory loop at offset %d", off)
	}
	ir.visited[off] = true
	if err := ir.read.spend(size); err != nil {
		return err
	}
	b := make([]byte, size)
	if err := readAt(ir.r, ir.size, b, off); err != nil {
		return err
	}
	var last *node
	for pos := 0; pos < len(b); {
		if b[pos] == 0 { // records never span a sector; the rest of this one is padding
			pos = (pos/isoSector + 1) * isoSector
			continue
		}
		end := pos + int(b[pos])
		if end > len(b) || (end-1)/isoSector != pos/isoSector {
			return fmt.Errorf("seedfs: iso9660: directory record at offset %d crosses a sector", off+int64(pos))
		}
		rec, err := ir.parseRecord(b[pos:end])
		if err != nil {
			return err
		}
		pos = end
		if last, err = ir.addRecord(n, rec, last, depth); err != nil {
			return err
		}
	}
	return nil
}

// addRecord adds the entry for rec to n. last is the entry added just before, which a
// multi-extent record continues; it returns the entry to pass with the next record.
func (ir *isoReader) addRecord(n *node, rec isoRecord, last *node, depth int) (*node, error) {
	if len(rec.name) == 1 && rec.name[0] <= 1 || rec.flags&isoFlagAssociated != 0 {
		return nil, nil // "." and "..", and associated (resource fork) files
	}
	name, rr, err := ir.recordName(rec)
	if err != nil || rr.skip {
		return nil, err
	}
	if last != nil && !last.dir && name == last.name && rec.flags&isoFlagDir == 0 {
		if last.size+rec.size > ir.size {
			return nil, fmt.Errorf("seedfs: iso9660: multi-extent file %q larger than the image", name)
		}
		last.extents = append(last.extents, extent{rec.extent, rec.size})
		last.size += rec.size
		return lastIfMulti(last, rec), nil
	}
	c := &node{name: name, mtime: rec.mtime, dir: rec.flags&isoFlagDir != 0}
	if rr.child >= 0 { // a relocated directory: the real one is at the child link
		if err := ir.relocated(c, rr.child, depth); err != nil {
			return nil, err
		}
	} else if c.dir {
		if err := ir.readDir(c, rec.extent, rec.size, depth+1); err != nil {
			return nil, err
		}
	} else {
		c.size = rec.size
		c.extents = []extent{{rec.extent, rec.size}}
	}
	if err := n.addChild(c, &ir.count); err != nil {
		return nil, err
	}
	return lastIfMulti(c, rec), nil
}

func lastIfMulti(n *node, rec isoRecord) *node {
	if rec.flags&isoFlagMulti != 0 {
		return n
	}
	return nil
}

// relocated reads the directory a Rock Ridge CL entry points to: its own "." record gives its size.
func (ir *isoReader) relocated(c *node, off int64, depth int) error {
	if off > ir.size-34 {
		return fmt.Errorf("seedfs: iso9660: child link %d outside the image", off)
	}
	b := make([]byte, 255)
	b = b[:min(int64(len(b)), ir.size-off)]
	if err := readAt(ir.r, ir.size, b, off); err != nil {
		return err
	}
	dot, err := ir.parseRecord(b[:min(int(b[0]), len(b))])
	if err != nil {
		return err
	}
	c.dir = true
	return ir.readDir(c, off, dot.size, depth+1)
}

// isoRR is what the Rock Ridge entries of one record say.
type isoRR struct {
	name  []byte
	hasNM bool
	skip  bool  // relocated directory (RE) or symbolic link (SL): not shown in place
	child int64 // byte offset of the real directory (CL), or -1
}

// recordName returns the name of rec under the hierarchy's naming.
func (ir *isoReader) recordName(rec isoRecord) (string, isoRR, error) {
	rr := isoRR{child: -1}
	switch ir.names {
	case isoRockRidge:
		if err := ir.parseSUSP(rec.su, &rr); err != nil {
			return "", rr, err
		}
		if rr.hasNM {
			return string(rr.name), rr, nil
		}
	case isoJoliet:
		return stripVersion(decodeUCS2(rec.name)), rr, nil
	}
	return stripVersion(string(rec.name)), rr, nil
}

// parseSUSP reads the Rock Ridge entries of a system use area, following continuation areas.
func (ir *isoReader) parseSUSP(su []byte, rr *isoRR) error {
	if len(su) < ir.suspSkip {
		return nil
	}
	su = su[ir.suspSkip:]
	for hops := 0; ; hops++ {
		next, err := ir.parseSUSPArea(su, rr)
		if err != nil || next == nil {
			return err
		}
		if hops >= isoMaxSUSPHops {
			return errors.New("seedfs: iso9660: too many SUSP continuation areas")
		}
		su = next
	}
}

// parseSUSPArea parses one area and returns the continuation area (CE) it names, if any.
// A malformed entry ends the area, as it does for Linux.
func (ir *isoReader) parseSUSPArea(su []byte, rr *isoRR) (next []byte, err error) {
	var ce []byte
	for len(su) >= 4 {
		l := int(su[2])
		if l < 4 || l > len(su) {
			break
		}
		e := su[:l]
		su = su[l:]
		switch string(e[:2]) {
		case "NM":
			if l >= 5 && e[4]&0x06 == 0 { // not "." or ".."
				rr.hasNM = true
				rr.name = append(rr.name, e[5:]...)
				if len(rr.name) > maxNameLen {
					return nil, errors.New("seedfs: iso9660: Rock Ridge name too long")
				}
			}
		case "RE", "SL":
			rr.skip = true
		case "CL":
			if l >= 12 {
				rr.child = int64(binary.LittleEndian.Uint32(e[4:])) * ir.block
			}
		case "CE":
			if l >= 28 {
				ce = e
			}
		case "ST":
			su = nil
		}
	}
	if ce == nil {
		return nil, nil
	}
	off := int64(binary.LittleEndian.Uint32(ce[4:]))*ir.block + int64(binary.LittleEndian.Uint32(ce[12:]))
	n := int64(binary.LittleEndian.Uint32(ce[20:]))
	if n > ir.block {
		return nil, fmt.Errorf("seedfs: iso9660: SUSP continuation of %d bytes", n)
	}
	if err := ir.read.spend(n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := readAt(ir.r, ir.size, b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeUCS2 decodes Joliet's big-endian UCS-2 (read as UTF-16).
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// stripVersion removes an ISO 9660 ";N" version and the dot of an empty extension.
func stripVersion(name string) string {
	if i := strings.LastIndexByte(name, ';'); i >= 0 && strings.Trim(name[i+1:], "0123456789") == "" {
		name = name[:i]
	}
	if strings.HasSuffix(name, ".") && name != "." && name != ".." {
		name = name[:len(name)-1]
	}
	return name
}

// fileData returns a reader for a regular file's extents.
func (ir *isoReader) fileData(n *node) io.Reader {
	rs := make([]io.Reader, len(n.extents))
	for i, e := range n.extents {
		rs[i] = io.NewSectionReader(ir.r, e.off, e.len)
	}
	return io.MultiReader(rs...)
}
