package auth_test

import (
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/auth/sessiontest"
)

func TestRedisSessionsConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) auth.SessionStore {
		rdb, prefix := itest.Redis(t)
		return auth.NewRedisSessions(rdb, prefix+":webui:session")
	})
}
