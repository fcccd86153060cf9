package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// BenchmarkCreateKeysAndCertificate issues RSA 2048 key pairs and
// certificates (what AWS CreateKeysAndCertificate makes) through the SDK
// client against an in-process server, one request at a time and with
// GOMAXPROCS concurrent clients, and reports certificates per second.
func BenchmarkCreateKeysAndCertificate(b *testing.B) {
	cfg := defaults()
	cfg.DataDir = b.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MQTTAddr = "127.0.0.1:0"
	logger := slog.New(slog.DiscardHandler)
	s := newServer(cfg, "bench", logger)
	if err := s.Start(b.Context()); err != nil {
		b.Fatalf("Start: %v", err)
	}
	b.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	key, err := ensureCredentials(cfg.DataDir, nil, logger)
	if err != nil {
		b.Fatalf("credentials: %v", err)
	}
	c := staticIoTClient(s, key.ID, key.Secret)
	create := func() error {
		_, err := c.CreateKeysAndCertificate(context.Background(), &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		return err
	}
	perSecond := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
	}
	b.Run("serial", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			if err := create(); err != nil {
				b.Fatalf("CreateKeysAndCertificate: %v", err)
			}
		}
		perSecond(b, start)
	})
	b.Run("parallel", func(b *testing.B) {
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := create(); err != nil {
					b.Errorf("CreateKeysAndCertificate: %v", err)
					return
				}
			}
		})
		perSecond(b, start)
	})
}
