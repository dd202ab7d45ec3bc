package gateway

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogWriterFlushesOnTimeAndClose(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	lw := NewLogWriter(w)
	lw.Write([]byte("one\n"))
	mu.Lock()
	early := out.String()
	mu.Unlock()
	if early != "" {
		t.Fatalf("written before a flush: %q", early)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if got == "one\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not flushed by the ticker: %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lw.Write([]byte("two\n"))
	lw.Close()
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("after Close: %q", got)
	}
	lw.Write([]byte("three\n")) // after Close: straight through
	if !strings.HasSuffix(out.String(), "three\n") {
		t.Fatalf("write after Close lost: %q", out.String())
	}
}

func TestLogWriterFlushesWhenFull(t *testing.T) {
	var out bytes.Buffer
	lw := NewLogWriter(&out)
	defer lw.Close()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range flushSize/len(line) + 1 {
		lw.Write(line)
	}
	lw.mu.Lock()
	n := out.Len()
	lw.mu.Unlock()
	if n == 0 || n%len(line) != 0 {
		t.Fatalf("flushed %d bytes: want whole lines past %d", n, flushSize)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
