package chroot

import (
	"reflect"
	"testing"
)

func TestParseFstab(t *testing.T) {
	in := "# comment\n\nUUID=1 / ext4 defaults 0 1\nLABEL=EFI\\040SYS /boot/efi vfat umask=077 0 1\n" +
		"UUID=2 /boot/ ext4 defaults\nnone /tmp tmpfs\n  # indented comment\nbroken\n"
	got := parseFstab(in, "/boot", "/boot/efi")
	want := []fstabEntry{
		{Spec: "UUID=2", Dir: "/boot", Type: "ext4", Options: "defaults"},
		{Spec: "LABEL=EFI SYS", Dir: "/boot/efi", Type: "vfat", Options: "umask=077"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseFstab = %+v", got)
	}
}

func TestMatchSpec(t *testing.T) {
	table := twoPartitions()
	tags := map[int]map[string]string{1: {"UUID": "aaaa", "LABEL": "boot"}, 2: {"UUID": "bbbb"}}
	for spec, want := range map[string]int{
		"UUID=BBBB": 2, `UUID="aaaa"`: 1, "LABEL=boot": 1, "PARTUUID=abcd1234-02": 2,
		"PARTUUID=ffff-01": 0, "/dev/sda1": 0, "UUID=zzz": 0,
	} {
		if got := matchSpec(spec, table, tags); got != want {
			t.Errorf("matchSpec(%q) = %d, want %d", spec, got, want)
		}
	}
}
