package redisstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// LogRedisTo sends go-redis's own log lines (connection pool dial failures
// and the like, printed to stderr by default) to log, at warn level, so they
// join the process's structured log. go-redis has one logger per process:
// the last call wins.
func LogRedisTo(log zerolog.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("component", "go-redis").Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
