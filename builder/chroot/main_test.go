package chroot

import (
	"os"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }
