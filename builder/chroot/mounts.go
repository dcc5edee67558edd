package chroot

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// unmountTries bounds the retries of a busy unmount.
const unmountTries = 10

// unmountFunc returns an undo action that unmounts target, retrying while
// it is busy.
func unmountFunc(d Driver, target string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		var err error
		for i := 0; i < unmountTries; i++ {
			if err = d.Unmount(ctx, target); err == nil {
				return nil
			}
			time.Sleep(300 * time.Millisecond)
		}
		return err
	}
}

// killProcessesIn kills every process whose root directory is root, or
// below it, and waits (bounded) until they are gone: a provisioner may
// leave a daemon running that would keep the mounts busy.
func killProcessesIn(root string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesIn(root)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still run inside %s", pids, root)
		}
		for _, pid := range pids {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
				_ = p.Release()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesIn lists the processes whose root is root or below it.
func processesIn(root string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err == nil && (r == root || strings.HasPrefix(r, root+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// fstabEntry is one line of /etc/fstab.
type fstabEntry struct {
	Spec, Dir, Type, Options string
}

// parseFstab returns the entries of an fstab whose mount point is one of
// dirs, ordered by mount point so parents come first.
func parseFstab(content string, dirs ...string) []fstabEntry {
	want := map[string]bool{}
	for _, d := range dirs {
		want[d] = true
	}
	var out []fstabEntry
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		dir := filepath.Clean(unescapeFstab(f[1]))
		if !want[dir] {
			continue
		}
		e := fstabEntry{Spec: unescapeFstab(f[0]), Dir: dir, Type: f[2]}
		if len(f) > 3 {
			e.Options = f[3]
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// unescapeFstab undoes fstab's octal escapes (\040 for a space).
func unescapeFstab(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// matchSpec returns the partition an fstab device spec names (UUID=,
// LABEL=, PARTUUID=), or 0.
func matchSpec(spec string, table PartitionTable, tags map[int]map[string]string) int {
	key, val, ok := strings.Cut(spec, "=")
	if !ok {
		return 0
	}
	val = strings.Trim(val, `"`)
	for _, p := range table.Partitions {
		t := tags[p.Number]
		switch key {
		case "UUID", "LABEL":
			if strings.EqualFold(t[key], val) {
				return p.Number
			}
		case "PARTUUID":
			if strings.EqualFold(table.PartUUID(p), val) {
				return p.Number
			}
		}
	}
	return 0
}
