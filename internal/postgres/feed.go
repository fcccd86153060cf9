package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the channel every commit notifies, with its last seq as
// the payload.
const notifyChannel = "iotdm_changes"

// connectTimeout bounds connecting the listener's and the writer's
// connections.
const connectTimeout = 10 * time.Second

// Reconnection backoff of the LISTEN connection.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Wait implements iotdm.Store. It returns as soon as this DB knows of a
// commit past after: its own commits, another node's through their
// notification (received by the listener), or any commit the listener's
// poll of the feed head or a read of the feed saw.
func (db *DB) Wait(ctx context.Context, after uint64) error {
	for {
		if db.isClosed() {
			return errClosed("wait")
		}
		// Take the channel before reading known: a commit that lands after
		// the read closes this channel (or one taken later), so no wake-up
		// is lost.
		db.notifyMu.Lock()
		ch := db.notify
		db.notifyMu.Unlock()
		if db.known.Load() > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-db.closing:
			return errClosed("wait")
		}
	}
}

// advance records that every change up to seq has committed, waking every
// Wait if that is news.
func (db *DB) advance(seq uint64) {
	for {
		cur := db.known.Load()
		if seq <= cur {
			return
		}
		if db.known.CompareAndSwap(cur, seq) {
			break
		}
	}
	db.notifyMu.Lock()
	close(db.notify)
	db.notify = make(chan struct{})
	db.notifyMu.Unlock()
}

// connectListener opens a LISTEN connection and then reads the feed head,
// so that every commit after the read is notified on the connection.
func (db *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, db.listenCfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("listen: connect: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+notifyChannel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := db.pollHead(cctx, conn); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	db.listenPID.Store(conn.PgConn().PID())
	return conn, nil
}

// pollHead reads the feed head on conn.
func (db *DB) pollHead(ctx context.Context, conn *pgx.Conn) error {
	var seq int64
	if err := conn.QueryRow(ctx, sqlHead).Scan(&seq); err != nil {
		return fmt.Errorf("read feed head: %w", err)
	}
	db.advance(uint64(seq))
	return nil
}

// listen runs until ctx ends: it waits for notifications on conn, reads
// the feed head whenever none came for db.poll, and replaces the
// connection, with backoff, when it breaks.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(db.listenDone)
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	backoff := minBackoff
	for {
		if conn == nil {
			c, err := db.connectListener(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				db.logger.WarnContext(ctx, "postgres: change feed listener cannot reconnect", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			db.logger.InfoContext(ctx, "postgres: change feed listener reconnected")
			conn, backoff = c, minBackoff
		}
		wctx, cancel := context.WithTimeout(ctx, db.poll)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			if n != nil && n.Channel == notifyChannel {
				if seq, perr := strconv.ParseUint(n.Payload, 10, 64); perr == nil {
					db.advance(seq)
				} else {
					db.logger.WarnContext(ctx, "postgres: bad change notification", "payload", n.Payload)
				}
			}
			continue
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// No notification for a while: make sure none was lost.
			if err = db.pollHead(ctx, conn); err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
		}
		db.logger.WarnContext(ctx, "postgres: change feed listener lost its connection; reconnecting", "err", err)
		closeConn(conn)
		conn = nil
	}
}

// closeConn closes a connection of the listener, giving the server a moment
// to hear of it.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
