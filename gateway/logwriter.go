package gateway

import (
	"io"
	"sync"
	"time"
)

// LogWriter batches log lines so that a busy gateway does not pay one write
// system call per connection summary: lines are buffered and flushed every
// FlushInterval, when the buffer passes flushSize, and on Close. A line is
// never split across flushes.
type LogWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

// FlushInterval bounds how long a log line may wait in the buffer.
const FlushInterval = 100 * time.Millisecond

const flushSize = 32 << 10

// NewLogWriter starts a LogWriter over w. Close it to flush the last lines.
func NewLogWriter(w io.Writer) *LogWriter {
	lw := &LogWriter{w: w, buf: make([]byte, 0, flushSize*2), stop: make(chan struct{}), stopped: make(chan struct{})}
	go lw.loop()
	return lw
}

// Write buffers one log line (zerolog writes each event in one call).
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.closed {
		return lw.w.Write(p)
	}
	lw.buf = append(lw.buf, p...)
	if len(lw.buf) >= flushSize {
		lw.flushLocked()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (lw *LogWriter) Flush() {
	lw.mu.Lock()
	lw.flushLocked()
	lw.mu.Unlock()
}

func (lw *LogWriter) flushLocked() {
	if len(lw.buf) == 0 {
		return
	}
	_, _ = lw.w.Write(lw.buf)
	if cap(lw.buf) > 4*flushSize {
		lw.buf = make([]byte, 0, flushSize*2)
	} else {
		lw.buf = lw.buf[:0]
	}
}

func (lw *LogWriter) loop() {
	defer close(lw.stopped)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			lw.Flush()
		case <-lw.stop:
			return
		}
	}
}

// Close flushes and stops the background flusher; later writes go straight
// through.
func (lw *LogWriter) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return nil
	}
	lw.closed = true
	lw.flushLocked()
	lw.mu.Unlock()
	close(lw.stop)
	<-lw.stopped
	return nil
}
