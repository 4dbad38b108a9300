//go:build !linux

package tests

import "os/exec"

// The emulator test runs on Linux only; elsewhere it skips before starting
// anything.
func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
