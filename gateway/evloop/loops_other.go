//go:build !linux

package evloop

// Loops exist on Linux only; elsewhere every connection has goroutines.
type Loops struct{}

// New returns ErrUnsupported.
func New(int) (*Loops, error) { return nil, ErrUnsupported }

// Close does nothing.
func (*Loops) Close() {}

// Open reports no connection.
func (*Loops) Open() int { return 0 }

// Prepare is never called: New fails.
func (*Loops) Prepare(int, Host) *Conn { return &Conn{} }

// Conn exists on Linux only.
type Conn struct{}

// Start refuses.
func (*Conn) Start() error { return ErrUnsupported }

// Abort does nothing.
func (*Conn) Abort() {}
