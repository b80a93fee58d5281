package step

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawIOConn is a TCP connection whose reads and writes are raw system
// calls. Its socket is non-blocking (the runtime's poller waits for it), so
// a read or write never blocks; made the usual way, each one enters the
// runtime's syscall bookkeeping, which wakes the scheduler's monitor
// thread whenever the process was idle. A journey step idles while it
// waits for each response, so on a one-core generator that wake-up and the
// monitor's 20 µs polling that follows cost about as much CPU as the
// request path itself (perf: sysmon 15-18 % of a 5000/s 3-step run, against
// 4 % for the vegeta CLI).
type rawIOConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// One read and one write at a time, each with its state here and its
	// callback bound once: a closure per call would be an allocation per
	// request.
	rmu     sync.Mutex
	rbuf    []byte
	rn      int
	rerrno  syscall.Errno
	readFn  func(fd uintptr) bool
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// rawIO wraps c when it is a TCP connection whose descriptor can be used.
func rawIO(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rw := &rawIOConn{TCPConn: tc, rc: rc}
	rw.readFn, rw.writeFn = rw.read, rw.write
	return rw
}

// read is called by the poller until it returns true; false waits until
// the socket is readable (or the deadline).
func (c *rawIOConn) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

func (c *rawIOConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write is called by the poller until it returns true; false waits until
// the socket is writable (or the deadline).
func (c *rawIOConn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

func (c *rawIOConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError words an error as net's own Read and Write do ("read tcp
// 127.0.0.1:5000->127.0.0.1:8080: i/o timeout"), so messages and their
// classification do not change.
func (c *rawIOConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "raw-"+op {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
