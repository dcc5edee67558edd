package metadata

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Bounds on the response head: lines longer than the read buffer are refused.
const (
	maxLine        = 4 << 10
	maxHeaderLines = 100
)

// open makes an unconnected TCP socket for t on the calling goroutine's thread (so in its
// network namespace) and hands it to the runtime's poller.
func open(t target) (*net.TCPConn, error) {
	family := unix.AF_INET
	if t.addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "metadata")
	defer f.Close() // FileConn keeps its own copy of the descriptor
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("socket: not TCP (%T)", c)
	}
	return tc, nil
}

// get connects c to t, sends the GET and reads the answer, all within ctx. It closes c.
func get(ctx context.Context, c *net.TCPConn, t target) ([]byte, error) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	err := connect(c, t)
	if err == nil {
		_, err = io.WriteString(c, "GET "+Path+" HTTP/1.1\r\nHost: "+t.host()+
			"\r\nUser-Agent: clearwater-firstboot\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	}
	var data []byte
	if err == nil {
		data, err = readResponse(bufio.NewReaderSize(c, maxLine))
	}
	var ne net.Error
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
	case errors.As(err, &ne) && ne.Timeout():
		// The socket deadline is ctx's, and may fire just before ctx's own timer does.
		return nil, fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return data, err
}

// connect starts a non-blocking connect and waits, through the poller (so deadlines and Close
// apply), until it is done.
func connect(c *net.TCPConn, t target) error {
	var sa unix.Sockaddr
	if a := t.addr.Addr(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(t.addr.Port()), Addr: a.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(t.addr.Port()), Addr: a.As16(), ZoneId: uint32(t.ifindex)}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), sa) }); err != nil {
		return err
	}
	if cerr == nil {
		return nil
	}
	if !errors.Is(cerr, unix.EINPROGRESS) {
		return fmt.Errorf("connect: %w", cerr)
	}
	// Writable means the connect ended; SO_ERROR says how.
	err = rc.Write(func(fd uintptr) bool {
		if _, perr := unix.Getpeername(int(fd)); perr == nil {
			return true
		}
		n, gerr := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case gerr != nil:
			cerr = gerr
		case n != 0:
			cerr = syscall.Errno(n)
		default:
			return false // still connecting: wait until writable
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if cerr != nil && !errors.Is(cerr, unix.EINPROGRESS) {
		return fmt.Errorf("connect: %w", cerr)
	}
	return nil
}

// readResponse reads an HTTP/1.x response: 200 gives the body (at most MaxSize bytes), 404 gives
// ErrNoUserData, anything else an error naming the status.
func readResponse(r *bufio.Reader) ([]byte, error) {
	status, err := readLine(r)
	if err != nil {
		return nil, fmt.Errorf("reading status line: %w", err)
	}
	proto, code, _ := strings.Cut(status, " ")
	code, reason, _ := strings.Cut(code, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return nil, fmt.Errorf("not an HTTP/1.x response: %q", truncate(status))
	}
	length, chunked, err := readHeaders(r)
	if err != nil {
		return nil, err
	}
	switch code {
	case "200":
	case "404":
		return nil, ErrNoUserData
	default:
		return nil, fmt.Errorf("HTTP %s %s", code, truncate(reason))
	}
	switch {
	case chunked:
		return readChunked(r)
	case length >= 0:
		if length > MaxSize {
			return nil, fmt.Errorf("user-data of %d bytes is over the %d-byte limit", length, MaxSize)
		}
		data := make([]byte, length)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("reading %d-byte body: %w", length, err)
		}
		return data, nil
	default:
		return readAll(r, MaxSize)
	}
}

// readHeaders reads header lines up to the blank line; it returns Content-Length (-1 if absent)
// and whether the body is chunked.
func readHeaders(r *bufio.Reader) (length int64, chunked bool, err error) {
	length = -1
	for range maxHeaderLines {
		line, err := readLine(r)
		if err != nil {
			return 0, false, fmt.Errorf("reading headers: %w", err)
		}
		if line == "" {
			return length, chunked, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, false, fmt.Errorf("bad header line %q", truncate(line))
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return 0, false, fmt.Errorf("bad Content-Length %q", truncate(value))
			}
			length = n
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
			if !chunked && !strings.EqualFold(value, "identity") {
				return 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", truncate(value))
			}
		}
	}
	return 0, false, fmt.Errorf("more than %d header lines", maxHeaderLines)
}

// readChunked decodes a chunked body of at most MaxSize bytes (trailers are skipped).
func readChunked(r *bufio.Reader) ([]byte, error) {
	var data []byte
	for range MaxSize + 1 { // each chunk is at least one byte, so this bounds the loop
		line, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("reading chunk size: %w", err)
		}
		sz, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseUint(strings.TrimSpace(sz), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("bad chunk size %q", truncate(line))
		}
		if n == 0 {
			return data, nil
		}
		if uint64(len(data))+n > MaxSize {
			return nil, fmt.Errorf("user-data is over the %d-byte limit", MaxSize)
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, fmt.Errorf("reading chunk: %w", err)
		}
		if string(chunk[n:]) != "\r\n" {
			return nil, errors.New("chunk not followed by CRLF")
		}
		data = append(data, chunk[:n]...)
	}
	return nil, errors.New("too many chunks")
}

// readAll reads to EOF, failing past max bytes.
func readAll(r io.Reader, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("user-data is over the %d-byte limit", max)
	}
	return data, nil
}

// readLine reads one CRLF- (or LF-) terminated line of at most r's buffer size.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("line longer than %d bytes", r.Size())
	case errors.Is(err, io.EOF):
		return "", io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// truncate shortens what a server sent before it goes into an error message.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
