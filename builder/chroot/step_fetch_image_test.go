package chroot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStepFetchImage(t *testing.T) {
	t.Setenv("PACKER_CACHE_DIR", t.TempDir())
	src := filepath.Join(t.TempDir(), "base.img")
	if err := os.WriteFile(src, []byte("image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("image bytes"))
	good := "sha256:" + hex.EncodeToString(sum[:])
	bad := "sha256:" + strings.Repeat("0", 64)
	// A real download over loopback, through the SDK's download step.
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(src))))
	defer srv.Close()
	for _, tc := range []struct {
		name, source, checksum, want string
	}{
		{"path", src, "", ""},
		{"path with checksum", src, good, ""},
		{"file URL", "file://" + src, good, ""},
		{"wrong checksum", "file://" + src, bad, "checksum"},
		{"missing file", "file://" + src + ".missing", good, "source_image"},
		{"http", srv.URL + "/base.img", good, ""},
		{"http wrong checksum", srv.URL + "/base.img", bad, "checksum"},
		// Not the same checksum as above: the SDK caches by checksum.
		{"http 404", srv.URL + "/missing.img", "sha256:" + strings.Repeat("1", 64), "source_image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, _ := testState(t, &Config{SourceImage: tc.source, SourceImageChecksum: tc.checksum}, &fakeDriver{})
			err := stateErrorAfter((&stepFetchImage{}).Run(context.Background(), state), state)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if got := state.Get("source_path").(string); strings.HasPrefix(tc.source, "http") {
				assertContent(t, got, "image bytes")
			} else if got != src {
				t.Errorf("source_path %v, want %s (used in place)", got, src)
			}
			assertContent(t, src, "image bytes")
		})
	}
}
