//go:generate go run ./internal/buildhelpers -out helpers -version=${CLEARWATER_VERSION}

package firstboot

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// embedded holds the helper binaries that `go generate` builds into helpers/.
//
//go:embed helpers
var embedded embed.FS

// helperArches maps the guest's `uname -m` to the Go architecture of the helper built for it,
// and that to the ELF machine the binary must have.
var helperArches = map[string]string{
	"x86_64":  "amd64",
	"amd64":   "amd64",
	"aarch64": "arm64",
	"arm64":   "arm64",
}

var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// supportedMachines is how errors name what uname -m may say.
const supportedMachines = "x86_64 (amd64) and aarch64 (arm64)"

// helperArch maps `uname -m` output to the helper's Go architecture.
func helperArch(machine string) (string, error) {
	m := strings.TrimSpace(machine)
	if arch, ok := helperArches[m]; ok {
		return arch, nil
	}
	if m == "" {
		return "", errors.New("the guest's architecture is unknown: `uname -m` printed nothing; supported: " + supportedMachines)
	}
	return "", fmt.Errorf("the guest's architecture %q (from `uname -m`) has no clearwater-firstboot helper: supported are %s", m, supportedMachines)
}

// helperName is the helper's file name in helpers/ for arch.
func helperName(arch string) string { return "clearwater-firstboot_linux_" + arch }

// helperBinary returns the embedded helper for arch from fsys (the embedded files unless a
// test gives others), checking that it is an ELF executable for that architecture.
func helperBinary(fsys fs.FS, arch string) ([]byte, error) {
	name := "helpers/" + helperName(arch)
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("this build of the plugin has no embedded clearwater-firstboot helper for linux/%s "+
			"(%s is missing): rebuild the plugin with `make build`, or run `go generate ./provisioner/...` "+
			"before `go build`, then reinstall it with `packer plugins install --path`", arch, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the embedded helper %s: %w", name, err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the embedded helper %s is not an ELF executable (%v): rebuild the plugin with `make build`", name, err)
	}
	if want := elfMachines[arch]; f.Machine != want || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("the embedded helper %s is built for %s, not linux/%s: rebuild the plugin with `make build`", name, f.Machine, arch)
	}
	return data, nil
}
