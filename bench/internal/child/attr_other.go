//go:build unix && !linux

package child

import "syscall"

// attr puts a child in its own process group.
func attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
