package seedfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
)

// FAT directory entry attributes.
const (
	fatAttrVolume = 0x08
	fatAttrDir    = 0x10
	fatAttrLFN    = 0x0F
	fatEntrySize  = 32
)

// fatVolume is the geometry of a FAT12/16/32 filesystem, taken from its boot sector.
type fatVolume struct {
	r           io.ReaderAt
	size        int64
	bits        int   // 12, 16 or 32
	fatOff      int64 // first FAT
	clusterSize int64
	dataOff     int64  // cluster 2
	clusters    uint32 // data clusters, numbered 2..clusters+1
	rootOff     int64  // FAT12/16 fixed root directory
	rootSize    int64
	rootCluster uint32 // FAT32 root directory
	bootLabel   string
}

// newFATVolume checks the boot sector the way Linux does and returns the geometry; a sector
// that is not a FAT boot sector gives ErrUnknownFormat.
func newFATVolume(r io.ReaderAt, size int64) (*fatVolume, error) {
	var b [512]byte
	if err := readAt(r, size, b[:], 0); err != nil || (b[0] != 0xEB && b[0] != 0xE9) {
		return nil, ErrUnknownFormat
	}
	bps := int64(binary.LittleEndian.Uint16(b[11:]))
	spc := int64(b[13])
	reserved := int64(binary.LittleEndian.Uint16(b[14:]))
	nFATs := int64(b[16])
	rootEntries := int64(binary.LittleEndian.Uint16(b[17:]))
	total := int64(binary.LittleEndian.Uint16(b[19:]))
	if total == 0 {
		total = int64(binary.LittleEndian.Uint32(b[32:]))
	}
	fatSize := int64(binary.LittleEndian.Uint16(b[22:]))
	fat32 := fatSize == 0
	if fat32 {
		fatSize = int64(binary.LittleEndian.Uint32(b[36:]))
	}
	if bps != 512 && bps != 1024 && bps != 2048 && bps != 4096 || spc == 0 || spc&(spc-1) != 0 ||
		reserved == 0 || nFATs == 0 || fatSize == 0 || total == 0 || (fat32 && rootEntries != 0) {
		return nil, ErrUnknownFormat
	}
	v := &fatVolume{r: r, size: size, fatOff: reserved * bps, clusterSize: spc * bps}
	v.rootOff = (reserved + nFATs*fatSize) * bps
	v.rootSize = rootEntries * fatEntrySize
	dataSector := reserved + nFATs*fatSize + (v.rootSize+bps-1)/bps
	if dataSector >= total {
		return nil, fmt.Errorf("seedfs: vfat: no room for data (%d of %d sectors)", dataSector, total)
	}
	v.dataOff = dataSector * bps
	v.clusters = uint32(min((total-dataSector)/spc, 0x0FFFFFF5))
	labelAt := 43
	switch {
	case fat32:
		v.bits, labelAt = 32, 71
		v.rootCluster = binary.LittleEndian.Uint32(b[44:]) & 0x0FFFFFFF
		if ext := b[40]; ext&0x80 != 0 { // mirroring off: only the FAT numbered in the low bits is live
			if int64(ext&0x0F) >= nFATs {
				return nil, fmt.Errorf("seedfs: vfat: active FAT %d of %d", ext&0x0F, nFATs)
			}
			v.fatOff += int64(ext&0x0F) * fatSize * bps
		}
	case v.clusters < 4085:
		v.bits = 12
	default:
		v.bits = 16
	}
	if fatSize*bps*8 < int64(v.clusters+2)*int64(v.bits) {
		return nil, fmt.Errorf("seedfs: vfat: FAT of %d sectors too small for %d clusters", fatSize, v.clusters)
	}
	// Clusters past the end of the image cannot be read anyway; without them, no file can claim
	// more bytes than the image has.
	v.clusters = uint32(min(int64(v.clusters), max(0, size-v.dataOff)/v.clusterSize))
	if b[labelAt-5] == 0x29 { // extended boot signature: volume ID and label follow
		v.bootLabel = strings.TrimRight(string(b[labelAt:labelAt+11]), " \x00")
		if v.bootLabel == "NO NAME" {
			v.bootLabel = ""
		}
	}
	return v, nil
}

// fatReader builds the tree of one FAT volume.
type fatReader struct {
	v       *fatVolume
	visited map[uint32]bool // directory clusters already read
	count   int
	read    budget
}

func openFAT(v *fatVolume) (*FS, error) {
	fr := &fatReader{v: v, visited: map[uint32]bool{}}
	raw, err := fr.rootDir()
	if err != nil {
		return nil, err
	}
	root := &node{name: ".", dir: true}
	if err := fr.fillDir(root, raw, 0); err != nil {
		return nil, err
	}
	return &FS{typ: TypeVFAT, label: v.label(raw), root: root, data: v.fileData}, nil
}

// fatLabel returns the label of the FAT volume v without reading more than its root directory.
func fatLabel(v *fatVolume) (string, error) {
	fr := &fatReader{v: v, visited: map[uint32]bool{}}
	raw, err := fr.rootDir()
	if err != nil {
		return "", err
	}
	return v.label(raw), nil
}

// label returns the label from the root directory's volume-label entry, which mkfs.vfat and
// fatlabel keep current, else the one in the boot sector.
func (v *fatVolume) label(root []byte) string {
	for pos := 0; pos+fatEntrySize <= len(root) && root[pos] != 0; pos += fatEntrySize {
		e := root[pos : pos+fatEntrySize]
		if e[0] != 0xE5 && e[11]&0x3F != fatAttrLFN && e[11]&fatAttrVolume != 0 {
			return strings.TrimRight(shortName(e, false), " ")
		}
	}
	return v.bootLabel
}

// rootDir returns the raw root directory.
func (fr *fatReader) rootDir() ([]byte, error) {
	if fr.v.bits == 32 {
		return fr.dirData(fr.v.rootCluster)
	}
	if err := fr.read.spend(fr.v.rootSize); err != nil {
		return nil, err
	}
	b := make([]byte, fr.v.rootSize)
	return b, readAt(fr.v.r, fr.v.size, b, fr.v.rootOff)
}

// dirData reads a directory's cluster chain. Every directory cluster may be read only once, which
// catches loops within a chain and between directories.
func (fr *fatReader) dirData(c uint32) ([]byte, error) {
	var b []byte
	for c != fatEnd {
		if fr.visited[c] {
			return nil, fmt.Errorf("seedfs: vfat: directory loop at cluster %d", c)
		}
		fr.visited[c] = true
		if int64(len(b))+fr.v.clusterSize > maxDirBytes {
			return nil, errors.New("seedfs: vfat: directory over the size limit")
		}
		if err := fr.read.spend(fr.v.clusterSize); err != nil {
			return nil, err
		}
		off, err := fr.v.clusterOff(c)
		if err != nil {
			return nil, err
		}
		chunk := make([]byte, fr.v.clusterSize)
		if err := readAt(fr.v.r, fr.v.size, chunk, off); err != nil {
			return nil, err
		}
		b = append(b, chunk...)
		if c, err = fr.v.next(c); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// fillDir adds the entries of the raw directory b to n, recursing into subdirectories.
func (fr *fatReader) fillDir(n *node, b []byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("seedfs: vfat: directories nested deeper than %d", maxDepth)
	}
	var lfn fatLFN
	for pos := 0; pos+fatEntrySize <= len(b) && b[pos] != 0; pos += fatEntrySize {
		e := b[pos : pos+fatEntrySize]
		attr := e[11]
		switch {
		case e[0] == 0xE5:
			lfn = fatLFN{}
		case attr&0x3F == fatAttrLFN:
			lfn.add(e)
		case attr&fatAttrVolume != 0:
			lfn = fatLFN{}
		default:
			c, err := fr.entry(e, lfn.name(e), depth)
			if err != nil {
				return err
			}
			lfn = fatLFN{}
			if c == nil {
				continue
			}
			if err := n.addChild(c, &fr.count); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry makes the node for a short directory entry, reading it if it is a directory; it returns
// nil for "." and "..".
func (fr *fatReader) entry(e []byte, long string, depth int) (*node, error) {
	name := long
	if name == "" {
		name = shortName(e, true)
	}
	if name == "." || name == ".." {
		return nil, nil
	}
	c := &node{
		name:    name,
		dir:     e[11]&fatAttrDir != 0,
		mtime:   fatTime(binary.LittleEndian.Uint16(e[24:]), binary.LittleEndian.Uint16(e[22:])),
		cluster: uint32(binary.LittleEndian.Uint16(e[26:])),
	}
	if fr.v.bits == 32 {
		c.cluster |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
	}
	if !c.dir {
		c.size = int64(binary.LittleEndian.Uint32(e[28:]))
		if c.size > int64(fr.v.clusters)*fr.v.clusterSize {
			return nil, fmt.Errorf("seedfs: vfat: file %q of %d bytes is larger than the volume", name, c.size)
		}
		return c, nil
	}
	if c.cluster == 0 {
		return nil, fmt.Errorf("seedfs: vfat: directory %q has no cluster", name)
	}
	raw, err := fr.dirData(c.cluster)
	if err != nil {
		return nil, err
	}
	return c, fr.fillDir(c, raw, depth+1)
}

// shortName decodes an 8.3 name; with lower, it honours the lower-case flags Windows NT and
// mtools set. Bytes above 0x7F are taken as Latin-1, since the code page is unknown.
func shortName(e []byte, lower bool) string {
	raw := [11]byte(e[:11])
	if raw[0] == 0x05 {
		raw[0] = 0xE5
	}
	base := strings.TrimRight(latin1(raw[:8]), " ")
	ext := strings.TrimRight(latin1(raw[8:]), " ")
	if lower && e[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if lower && e[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext == "" || !lower {
		return base + ext
	}
	return base + "." + ext
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// fatTime decodes a FAT date and time, which carry no zone; they are taken as UTC.
func fatTime(d, t uint16) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(d>>9), time.Month(d>>5&0x0F), int(d&0x1F),
		int(t>>11), int(t>>5&0x3F), int(t&0x1F)*2, 0, time.UTC)
}

// fatLFN collects the long-name entries that precede a short entry, last part first.
type fatLFN struct {
	parts [20][13]uint16
	n     int  // parts announced by the first entry
	next  int  // sequence number expected next
	sum   byte // checksum of the short name they belong to
}

func (l *fatLFN) add(e []byte) {
	seq := int(e[0] & 0x1F)
	switch {
	case e[0]&0x40 != 0 && seq >= 1 && seq <= len(l.parts):
		*l = fatLFN{n: seq, next: seq, sum: e[13]}
	case l.n == 0 || seq != l.next || e[13] != l.sum:
		*l = fatLFN{}
		return
	}
	for i, off := range [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
		l.parts[seq-1][i] = binary.LittleEndian.Uint16(e[off:])
	}
	l.next--
}

// name returns the long name if a complete one for the short entry e was collected.
func (l *fatLFN) name(e []byte) string {
	if l.n == 0 || l.next != 0 || l.sum != lfnChecksum(e[:11]) {
		return ""
	}
	var u []uint16
	for _, p := range l.parts[:l.n] {
		u = append(u, p[:]...)
	}
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

func lfnChecksum(short []byte) byte {
	var sum byte
	for _, c := range short {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// fatEnd marks the end of a cluster chain.
const fatEnd = ^uint32(0)

// next returns the cluster after c, or fatEnd.
func (v *fatVolume) next(c uint32) (uint32, error) {
	var b [4]byte
	off, n := int64(c)*4, 4
	switch v.bits {
	case 12:
		off, n = int64(c)+int64(c)/2, 2
	case 16:
		off, n = int64(c)*2, 2
	}
	if err := readAt(v.r, v.size, b[:n], v.fatOff+off); err != nil {
		return 0, err
	}
	e := binary.LittleEndian.Uint32(b[:])
	var eoc uint32
	switch v.bits {
	case 12:
		if c%2 == 1 {
			e >>= 4
		}
		e, eoc = e&0xFFF, 0xFF8
	case 16:
		eoc = 0xFFF8
	default:
		e, eoc = e&0x0FFFFFFF, 0x0FFFFFF8
	}
	if e >= eoc {
		return fatEnd, nil
	}
	if e < 2 || e >= v.clusters+2 {
		return 0, fmt.Errorf("seedfs: vfat: cluster %d links to bad cluster %#x", c, e)
	}
	return e, nil
}

// clusterOff returns the image offset of cluster c.
func (v *fatVolume) clusterOff(c uint32) (int64, error) {
	if c < 2 || c >= v.clusters+2 {
		return 0, fmt.Errorf("seedfs: vfat: bad cluster %#x", c)
	}
	return v.dataOff + int64(c-2)*v.clusterSize, nil
}

// fileData returns a reader for a regular file's cluster chain.
func (v *fatVolume) fileData(n *node) io.Reader {
	return &fatFile{v: v, c: n.cluster, left: n.size}
}

// fatFile reads a file along its cluster chain. The chain is followed only as far as the file's
// size, so a looping chain cannot make it read forever.
type fatFile struct {
	v    *fatVolume
	c    uint32
	off  int64 // within cluster c
	left int64
}

func (f *fatFile) Read(p []byte) (int, error) {
	if f.left == 0 {
		return 0, io.EOF
	}
	if f.off == f.v.clusterSize {
		c, err := f.v.next(f.c)
		if err == nil && c == fatEnd {
			err = errors.New("seedfs: vfat: cluster chain shorter than the file")
		}
		if err != nil {
			return 0, err
		}
		f.c, f.off = c, 0
	}
	base, err := f.v.clusterOff(f.c)
	if err != nil {
		return 0, err
	}
	n := min(int64(len(p)), f.v.clusterSize-f.off, f.left)
	if err := readAt(f.v.r, f.v.size, p[:n], base+f.off); err != nil {
		return 0, err
	}
	f.off += n
	f.left -= n
	return int(n), nil
}
