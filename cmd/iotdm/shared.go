package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/pki/cafile"
)

// Nodes sharing one store must trust the same CA (a device's certificate
// is issued by whichever node answered CreateKeysAndCertificate, and every
// node's broker presents a server certificate of it) and accept the same
// admin key. With PostgreSQL both live in the store, as account entities;
// the first node to start puts its own (from its data directory, or new),
// the others take them and write them into their data directories for
// the clients (iotdm env, ca.pem).
const (
	keySharedCA    = "shared-ca"
	keySharedAdmin = "shared-admin-key"
)

type storedKey struct {
	ID     string `json:"accessKeyId"`
	Secret string `json:"secretAccessKey"`
}

type storedCA struct {
	CertPEM string `json:"certificatePem"`
	KeyPEM  string `json:"privateKeyPem"`
}

// sharedCA returns the store's CA, putting the data directory's (created
// if needed) there when the store has none.
func sharedCA(ctx context.Context, store iotdm.Store, dir string, opts pki.CAOptions) (*pki.CA, error) {
	var stored storedCA
	err := store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		v, ok, err := tx.Get(ctx, iotdm.KindAccount, keySharedCA)
		if err != nil {
			return err
		}
		if ok {
			return json.Unmarshal(v, &stored)
		}
		ca, err := cafile.LoadOrCreate(dir, opts)
		if err != nil {
			return err
		}
		key, err := ca.PrivateKeyPEM()
		if err != nil {
			return err
		}
		stored = storedCA{CertPEM: string(ca.PEM()), KeyPEM: string(key)}
		b, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return tx.Put(ctx, iotdm.KindAccount, keySharedCA, b)
	})
	if err != nil {
		return nil, err
	}
	ca, err := pki.ParseCA([]byte(stored.CertPEM), []byte(stored.KeyPEM), opts)
	if err != nil {
		return nil, fmt.Errorf("the store's CA: %w", err)
	}
	// The data directory's files follow the store.
	for name, data := range map[string]struct {
		body string
		mode os.FileMode
	}{cafile.CertFile: {stored.CertPEM, 0o644}, cafile.KeyFile: {stored.KeyPEM, 0o600}} {
		path := filepath.Join(dir, name)
		if cur, err := os.ReadFile(path); err == nil && string(cur) == data.body {
			continue
		}
		if err := writeFileAtomic(path, []byte(data.body), data.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return ca, nil
}

// sharedAdminKey returns the store's admin key, putting local there when
// the store has none. A key given in the environment (override) wins on
// this node, with a warning when it differs from the store's.
func sharedAdminKey(ctx context.Context, store iotdm.Store, dir string, local AccessKey, override bool, log *slog.Logger) (AccessKey, error) {
	var key AccessKey
	err := store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		v, ok, err := tx.Get(ctx, iotdm.KindAccount, keySharedAdmin)
		if err != nil {
			return err
		}
		if ok {
			var k storedKey
			if err := json.Unmarshal(v, &k); err != nil || k.ID == "" || k.Secret == "" {
				return fmt.Errorf("the store's admin key is unreadable: %v", err)
			}
			key = AccessKey{ID: k.ID, Secret: k.Secret}
			return nil
		}
		key = local
		b, err := json.Marshal(storedKey{ID: local.ID, Secret: local.Secret})
		if err != nil {
			return err
		}
		return tx.Put(ctx, iotdm.KindAccount, keySharedAdmin, b)
	})
	if err != nil {
		return AccessKey{}, err
	}
	if key == local {
		return key, nil
	}
	if override {
		log.Warn("the admin key from the environment differs from the one the other nodes use", "accessKeyId", local,
			"shared", key)
		return local, nil
	}
	return ensureCredentials(dir, &key, log.With("component", "credentials"))
}
