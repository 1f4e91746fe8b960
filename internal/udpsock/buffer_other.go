//go:build !linux

package udpsock

import "syscall"

func setReadBuffer(fd, n int) error {
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
