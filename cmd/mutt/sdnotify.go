package main

import (
	"log/slog"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifyReady returns the ServeOptions.Ready callback that tells systemd a
// Type=notify unit is ready once every listener of the process is open. It
// does nothing when the process was not started by systemd (no
// NOTIFY_SOCKET).
func notifyReady(logger *slog.Logger) func(map[string]string) {
	return func(map[string]string) {
		sent, err := daemon.SdNotify(false, daemon.SdNotifyReady)
		if err != nil {
			logger.Warn("telling systemd the service is ready", "error", err)
			return
		}
		if sent {
			logger.Debug("told systemd the service is ready")
		}
	}
}
