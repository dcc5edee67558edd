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

// TestOverBaseWhyNot: the output starts as a copy of the source only when the source is a
// standalone qcow2 mostly compressed with the output's compression type.
func TestOverBaseWhyNot(t *testing.T) {
	zstd := ImageInfo{Format: "qcow2", CompressionType: "zstd"}
	mostly := ImageCheck{Allocated: 100, Compressed: 95}
	for _, tc := range []struct {
		name        string
		format, cmp string
		info        ImageInfo
		chk         ImageCheck
		want        string // "" or a part of the reason
	}{
		{"compressed zstd source, zstd output", "qcow2", "zstd", zstd, mostly, ""},
		{"half compressed", "qcow2", "zstd", zstd, ImageCheck{Allocated: 100, Compressed: 50}, ""},
		{"zlib output", "qcow2", "zlib", zstd, mostly, "compression type is zstd"},
		{"uncompressed output", "qcow2", "none", zstd, mostly, "not compressed"},
		{"raw output", "raw", "none", zstd, mostly, "not compressed"},
		{"raw source", "qcow2", "zstd", ImageInfo{Format: "raw"}, ImageCheck{}, "source image is raw"},
		{"backing file", "qcow2", "zstd", ImageInfo{Format: "qcow2", CompressionType: "zstd", BackingFile: "b.qcow2"}, mostly, "standalone"},
		{"data file", "qcow2", "zstd", ImageInfo{Format: "qcow2", CompressionType: "zstd", DataFile: "d.raw"}, mostly, "standalone"},
		{"encrypted", "qcow2", "zstd", ImageInfo{Format: "qcow2", CompressionType: "zstd", Encrypted: true}, mostly, "unencrypted"},
		{"mostly uncompressed", "qcow2", "zstd", zstd, ImageCheck{Allocated: 100, Compressed: 49}, "49 of the source image's 100 clusters"},
		{"empty", "qcow2", "zstd", zstd, ImageCheck{}, "0 of the source image's 0 clusters"},
	} {
		c := &Config{Format: tc.format, Compression: tc.cmp}
		got := c.overBaseWhyNot(tc.info, tc.chk)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: overBaseWhyNot = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseImageInfo(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       ImageInfo
	}{
		{"zstd", `{"virtual-size": 2147483648, "format": "qcow2", "format-specific": {"type": "qcow2", "data": {"compat": "1.1", "compression-type": "zstd"}}}`,
			ImageInfo{Format: "qcow2", VirtualSize: 2 << 30, CompressionType: "zstd"}},
		{"compat 0.10 with a backing file", `{"virtual-size": 1024, "format": "qcow2", "backing-filename": "base.qcow2", "format-specific": {"type": "qcow2", "data": {"compat": "0.10"}}}`,
			ImageInfo{Format: "qcow2", VirtualSize: 1024, BackingFile: "base.qcow2", CompressionType: "zlib"}},
		{"data file, encrypted", `{"virtual-size": 1, "format": "qcow2", "encrypted": true, "format-specific": {"type": "qcow2", "data": {"compression-type": "zlib", "data-file": "d.raw"}}}`,
			ImageInfo{Format: "qcow2", VirtualSize: 1, DataFile: "d.raw", Encrypted: true, CompressionType: "zlib"}},
		{"raw", `{"virtual-size": 512, "format": "raw"}`, ImageInfo{Format: "raw", VirtualSize: 512}},
	} {
		got, err := parseImageInfo("x", []byte(tc.json))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := parseImageInfo("x", []byte("{")); err == nil || !strings.Contains(err.Error(), "qemu-img info x") {
		t.Errorf("bad JSON: %v", err)
	}
}
