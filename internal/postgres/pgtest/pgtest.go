// Package pgtest gives tests a fresh PostgreSQL database each, on the server
// IOTDM_TEST_POSTGRES names (a DSN, for example the one
// scripts/postgres-server.sh prints; `make test` starts that server).
//
// Without IOTDM_TEST_POSTGRES a test is skipped, loudly, unless
// IOTDM_REQUIRE_POSTGRES is set (as `make test` sets it): then it fails, so
// that CI never passes without having run the PostgreSQL tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that holds the test server's DSN.
const EnvDSN = "IOTDM_TEST_POSTGRES"

// EnvRequire, when set, turns a missing server into a failure.
const EnvRequire = "IOTDM_REQUIRE_POSTGRES"

// ServerDSN returns the test server's DSN, skipping or failing t when none
// is configured.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		msg := EnvDSN + " is not set: start a server with scripts/postgres-server.sh (make test does)"
		if os.Getenv(EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// DSN creates a database of its own for t on the test server and returns
// its DSN; the database is dropped when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "iotdm_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, server, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
