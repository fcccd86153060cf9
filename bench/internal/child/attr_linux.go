package child

import "syscall"

// attr puts a child in its own process group and has the kernel kill it
// should this process die without cleaning up (e.g. SIGKILL).
func attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
