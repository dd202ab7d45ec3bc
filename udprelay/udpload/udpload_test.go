package udpload

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestRunAgainstEcho(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	res, err := Run(context.Background(), c.LocalAddr().String(), 4, 64, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Sent == 0 || res.Received == 0 || res.Mismatched != 0 || res.Received > res.Sent {
		t.Fatalf("%+v", res)
	}
}

func TestRunNothingListening(t *testing.T) {
	c, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	addr := c.LocalAddr().String()
	c.Close()
	res, err := Run(context.Background(), addr, 2, 32, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 0 || res.Loss != 1 && res.Sent > 0 {
		t.Fatalf("%+v", res)
	}
}
