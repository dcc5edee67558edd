package chroot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// elfMachines names the ELF e_machine values of the architectures Debian
// ships, as qemu-user names them.
var elfMachines = map[uint16]string{
	3: "i386", 62: "x86_64", 40: "arm", 183: "aarch64", 243: "riscv64",
	21: "ppc64le", 22: "s390x", 8: "mips", 258: "loongarch64",
}

// goArchMachines maps runtime.GOARCH to the qemu-user name.
var goArchMachines = map[string]string{
	"386": "i386", "amd64": "x86_64", "arm": "arm", "arm64": "aarch64", "riscv64": "riscv64",
	"ppc64le": "ppc64le", "s390x": "s390x", "loong64": "loongarch64",
}

// stepCheckArch reads the architecture of the guest's /bin/sh and, when it
// is not the host's, checks that binfmt_misc has a qemu-user interpreter
// for it, so that the provisioners fail early with the fix instead of
// "Exec format error".
type stepCheckArch struct {
	// binfmtDir is where binfmt_misc lives; "" means the host's.
	binfmtDir string
	hostArch  string
}

func (s *stepCheckArch) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	_, _, ui, _ := stateOf(state)
	comm := state.Get("communicator").(*Communicator)
	if s.binfmtDir == "" {
		s.binfmtDir, s.hostArch = "/proc/sys/fs/binfmt_misc", goArchMachines[runtime.GOARCH]
	}
	var sh bytes.Buffer
	if err := comm.Download("/bin/sh", &sh); err != nil {
		return halt(state, fmt.Errorf("the image has no usable /bin/sh, which provisioners run in the chroot: %w", err))
	}
	guest, err := elfMachine(sh.Bytes())
	if err != nil {
		return halt(state, fmt.Errorf("reading the architecture of the image's /bin/sh: %w", err))
	}
	if guest == s.hostArch {
		return multistep.ActionContinue
	}
	ui.Say(fmt.Sprintf("The image is %s and the host %s: looking for a binfmt_misc handler (qemu-user-static) for it...", guest, s.hostArch))
	if err := checkBinfmt(s.binfmtDir, comm.Root, sh.Bytes(), guest); err != nil {
		return halt(state, fmt.Errorf("the image's /bin/sh is %s but this host is %s: %w", guest, s.hostArch, err))
	}
	return multistep.ActionContinue
}

// elfMachine returns the qemu-user name of an ELF file's architecture.
func elfMachine(b []byte) (string, error) {
	if len(b) < 20 || !bytes.Equal(b[:4], []byte("\x7fELF")) {
		return "", errors.New("not an ELF executable")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[5] == 2 {
		order = binary.BigEndian
	}
	m := order.Uint16(b[18:20])
	if name, ok := elfMachines[m]; ok {
		if name == "ppc64le" && b[5] == 2 {
			return "ppc64", nil
		}
		return name, nil
	}
	return "", fmt.Errorf("unknown ELF machine %d", m)
}

func (s *stepCheckArch) Cleanup(multistep.StateBag) {}
