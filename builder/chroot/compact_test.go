package chroot

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

func TestPrepareCompressionDefaults(t *testing.T) {
	for _, tc := range []struct{ format, set, want string }{
		{"qcow2", "", "zlib"}, {"raw", "", "none"}, {"qcow2", "zstd", "zstd"}, {"qcow2", "none", "none"}, {"raw", "none", "none"},
	} {
		raw := testRawConfig(t)
		raw["format"] = tc.format
		if tc.set != "" {
			raw["compression"] = tc.set
		}
		var b Builder
		if _, _, err := b.Prepare(raw); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if b.config.Compression != tc.want {
			t.Errorf("format %s, compression %q: got %q, want %q", tc.format, tc.set, b.config.Compression, tc.want)
		}
	}
}

func TestQemuImgArgs(t *testing.T) {
	progress := func(float64) {}
	for _, tc := range []struct {
		o      ConvertOptions
		format string
		want   []string
	}{
		{ConvertOptions{Compression: "zlib"}, "qcow2", []string{"-c"}},
		{ConvertOptions{Compression: "zstd", Progress: progress}, "qcow2", []string{"-p", "-c", "-o", "compression_type=zstd"}},
		{ConvertOptions{Compression: "none"}, "qcow2", nil},
		{ConvertOptions{}, "raw", nil},
		{ConvertOptions{Compression: "zstd"}, "raw", nil},
	} {
		if got := tc.o.qemuImgArgs(tc.format); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v to %s: %q, want %q", tc.o.Compression, tc.format, got, tc.want)
		}
	}
}

// TestProgressWriter feeds qemu-img's -p output in pieces that split its reports.
func TestProgressWriter(t *testing.T) {
	var got []float64
	w := &progressWriter{report: func(p float64) { got = append(got, p) }}
	out := "    (0.00/100%)\r    (1.01/100%)\r    (55.5/100%)\r    (100.00/100%)\r\n"
	for i := 0; i < len(out); i += 7 {
		w.Write([]byte(out[i:min(i+7, len(out))]))
	}
	if want := []float64{0, 1.01, 55.5, 100}; !reflect.DeepEqual(got, want) {
		t.Errorf("reports %v, want %v", got, want)
	}
}

func TestUIProgressEveryTenPercent(t *testing.T) {
	var out bytes.Buffer
	report := uiProgress(&packersdk.BasicUi{Writer: &out, ErrorWriter: &out}, "Writing")
	for _, p := range []float64{0, 3, 9.9, 10, 10.5, 35, 99, 100} {
		report(p)
	}
	if got := strings.Count(out.String(), "Writing: "); got != 4 || !strings.Contains(out.String(), "Writing: 35%") || !strings.Contains(out.String(), "Writing: 100%") {
		t.Errorf("UI got:\n%s", out.String())
	}
}

func TestStepTrimFilesystems(t *testing.T) {
	d := &fakeDriver{fail: map[string]error{"trim /m/boot": errors.New("fstrim: /m/boot: the discard operation is not supported")}}
	state, out := testState(t, &Config{}, d)
	state.Put("image_mounts", []string{"/m", "/m/boot"})
	if err := stateErrorAfter((&stepTrimFilesystems{}).Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	if want := []string{"trim /m", "trim /m/boot"}; !reflect.DeepEqual(d.Calls(), want) {
		t.Errorf("calls %q, want %q", d.Calls(), want)
	}
	for _, w := range []string{"Discarded free blocks: /m: 1 MiB", "Warning: not discarding the free blocks of /m/boot", "not supported"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("UI does not say %q:\n%s", w, out.String())
		}
	}
}
