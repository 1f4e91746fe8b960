package heartbeat_test

import (
	"testing"

	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/heartbeat/heartbeattest"
	"github.com/mutt-go/mutt/internal/itest"
)

func TestRedisBackendConformance(t *testing.T) {
	heartbeattest.Run(t, func(t *testing.T) heartbeat.Backend {
		rdb, prefix := itest.Redis(t)
		return heartbeat.NewRedis(rdb, prefix)
	})
}
