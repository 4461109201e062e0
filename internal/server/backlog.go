package server

import (
	"errors"
	"net"
	"time"
)

// Stopping without dropping the connections that wait to be accepted.
//
// The clients that connected before a stop began wait in the kernel's
// queue of the listening socket until the server accepts them. Closing
// the socket would reset them, and with them the calls they have sent: a
// client would see its call fail for no fault of its own. This matters
// most when 'authd run --replace' takes the socket over: it renames its
// own socket over the path first, so that every new connection reaches
// it, and only then stops this server, whose queue then holds the last
// connections it will ever get. So a stop takes every queued connection
// (stopAccepting), hands them to the gRPC server one by one, and waits
// until the server has begun the handshake of each (waitHanded): gRPC's
// GracefulStop closes at once a connection whose handshake has not begun.
// Each then has its calls served, and its GOAWAY, as every connection of
// a server that stops gracefully.

// errStopped is Accept's answer once the queue is handed out.
var errStopped = errors.New("the server stopped accepting connections")

// stopAccepting takes the connections waiting in the listener's queue,
// for Accept to hand out, and closes the listener.
func (l *guardedListener) stopAccepting() {
	l.mu.Lock()
	l.stopping = true
	l.queued = append(l.queued, acceptQueued(l.Listener)...)
	l.mu.Unlock()
	_ = l.Listener.Close() // ends an Accept in progress
}

// dequeue returns the next connection taken by stopAccepting, or nil when
// the listener is not stopping or has none left.
func (l *guardedListener) dequeue() net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopping {
		return nil
	}
	if len(l.queued) > 0 {
		c := l.queued[0]
		l.queued[0] = nil
		l.queued = l.queued[1:]
		return c
	}
	l.ended = true
	l.settleLocked()
	return nil
}

// handshaking counts a connection handed out whose handshake begins (or
// which is closed before).
func (l *guardedListener) handshaking() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unshaken--
	l.settleLocked()
}

func (l *guardedListener) settleLocked() {
	if l.ended && l.unshaken == 0 && l.settled != nil {
		close(l.settled)
		l.settled = nil
	}
}

// waitHanded waits, at most for d, until Accept has handed out every
// connection and the server has begun the handshake of each. It reports
// whether it did not have to give up.
func (l *guardedListener) waitHanded(d time.Duration) bool {
	l.mu.Lock()
	if l.ended && l.unshaken == 0 {
		l.mu.Unlock()
		return true
	}
	if l.settled == nil {
		l.settled = make(chan struct{})
	}
	settled := l.settled
	l.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-settled:
		return true
	case <-t.C:
		return false
	}
}

// Accept's callers see errStopped rather than the closed listener's error
// once the queue is handed out.
func (l *guardedListener) acceptError(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return errStopped
	}
	return err
}
